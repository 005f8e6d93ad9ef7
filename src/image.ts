/**
 * `npm run image`: build the daemon's own image (Dockerfile) on the runtime base image, with
 * no registry. Prints the tag. Uses the same Docker connection settings as the daemon.
 */
import { fileURLToPath } from 'node:url';
import { createBaseImage } from './backend/docker/base-image.ts';
import { connect } from './backend/docker/engine.ts';
import { buildFromTar } from './backend/docker/images.ts';
import { LABEL } from './backend/docker/labels.ts';
import { addTree, createPack } from './backend/docker/tar.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { VERSION } from './version.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const IGNORED = /^(node_modules|\.git|\.ci|bench|docs|test)(\/|$)|\.test\.ts$/;

const config = await loadConfig({ argv: process.argv.slice(2) });
const docker = connect(config.docker);
const log = createLogger(config.logLevel);
const base = await createBaseImage({ docker, strategy: config.baseImage, log }).ensure();
const tag = config.env.JINAD_IMAGE_TAG ?? `jinad:${VERSION}`;
const pack = createPack();
const filled = addTree(pack, REPO, '', (rel) => IGNORED.test(rel)).then(() => pack.finalize());
await buildFromTar(docker, {
  context: pack,
  tag,
  buildArgs: { BASE_IMAGE: base },
  labels: { [LABEL.kind]: 'daemon-image' },
  onLine: (l) => process.stderr.write(`${l}\n`),
});
await filled;
process.stdout.write(`${tag}\n`);
