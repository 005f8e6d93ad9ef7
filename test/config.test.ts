import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, resolveConfig } from '../src/config.ts';

describe('config', () => {
  it('has defaults fit for `npm start`', () => {
    const c = resolveConfig({});
    assert.equal(c.port, 8000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.root, '/tmp/jinad');
    assert.equal(c.databaseUrl, 'file:/tmp/jinad/jinad.db');
    assert.deepEqual(c.baseImage, { strategy: 'build' });
    assert.ok(Object.isFrozen(c));
  });
  it('file ← environment ← flags', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jinad-cfg-'));
    const file = path.join(dir, 'jinad.config.ts');
    writeFileSync(file, "export default { port: 9000, root: '/srv/a', buildConcurrency: 3, plugins: ['workspace', './mine'] };\n");
    const c = await loadConfig({ argv: ['--config', file, '--port', '9100'], env: { JINAD_ROOT: '/srv/b', JINAD_BASE_IMAGE: 'reg/x:1' } });
    assert.equal(c.port, 9100);
    assert.equal(c.root, '/srv/b');
    assert.equal(c.buildConcurrency, 3);
    assert.deepEqual(c.baseImage, { strategy: 'image', name: 'reg/x:1' });
    assert.deepEqual(c.plugins, ['workspace', path.join(dir, 'mine')]);
  });
  it('an invalid value names the key and the reason', () => {
    assert.throws(() => resolveConfig({ port: 70000 }), (e: Error) => e instanceof ConfigError && /port/.test(e.message));
    assert.throws(() => resolveConfig({ buildConcurrency: 0 }), /buildConcurrency/);
    assert.throws(() => resolveConfig({ nonsense: 1 } as never), /nonsense/);
    assert.throws(() => resolveConfig({ baseImage: { strategy: 'image' } } as never), /name/);
  });
  it('bad environment and flags fail clearly', async () => {
    await assert.rejects(loadConfig({ argv: [], env: { JINAD_PORT: 'eighty' }, cwd: '/nonexistent' }), /JINAD_PORT/);
    await assert.rejects(loadConfig({ argv: ['--frobnicate'], env: {}, cwd: '/nonexistent' }), /frobnicate/);
    await assert.rejects(loadConfig({ argv: ['--config', '/nonexistent/x.ts'], env: {} }), /does not exist/);
  });
});
