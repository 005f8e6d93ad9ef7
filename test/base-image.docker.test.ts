/** Runtime base images: built once, and those of other versions removed when nothing uses them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBaseImage } from '../src/backend/docker/base-image.ts';
import { LABEL } from './docker.ts';
import { addFile, createPack } from '../src/backend/docker/tar.ts';
import { createLogger } from '../src/logger.ts';
import { docker } from './helpers.ts';

async function build(tag: string, from: string): Promise<void> {
  const pack = createPack();
  const done = addFile(pack, 'Dockerfile', `FROM ${from}\nLABEL ${LABEL.kind}=base-image probe=${tag.replace(/[:.]/g, '-')}\n`).then(() => pack.finalize());
  await docker.buildImage({ context: pack, tag });
  await done;
}

describe('runtime base image', () => {
  it('removes base images of other versions that nothing uses, keeps the current one and those still in use', async () => {
    const base = createBaseImage({ docker: docker.engine, strategy: { strategy: 'build' }, log: createLogger('silent') });
    const current = await base.ensure();
    const unused = `jinad-runtime:0.0.0-unused-${process.pid}`;
    const used = `jinad-runtime:0.0.0-used-${process.pid}`;
    const child = `jinad-test-child:${process.pid}`;
    try {
      await build(unused, current);
      // The old version in use gets its base-image tag only once its child exists: daemons that
      // other tests start meanwhile prune old versions too, and must find it in use.
      const probe = `jinad-probe:used-${process.pid}`;
      await build(probe, current);
      await build(child, probe);
      await docker.engine.getImage(probe).tag({ repo: 'jinad-runtime', tag: `0.0.0-used-${process.pid}` });
      await docker.removeImage(probe);
      // Another test's daemon may prune first (every start prunes): the outcome is what counts.
      await base.pruneStale();
      assert.equal(await docker.imageId(unused), undefined, 'the unused old version is gone');
      assert.ok(await docker.imageId(child), 'an image built on an old version still works');
      assert.ok(await docker.imageId(current), 'the current version stays');
    } finally {
      for (const t of [child, used, unused]) await docker.removeImage(t);
    }
  });
});
