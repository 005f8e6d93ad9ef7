import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { resolveConfig } from '../src/config.ts';
import { createDaemon } from '../src/daemon.ts';
import { orderPlugins } from '../src/plugin/loader.ts';
import type { PluginDefinition } from '../src/plugin/define.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/plugins/${name}`, import.meta.url));
const p = (name: string, dependsOn: string[] = []): PluginDefinition => ({ name, dependsOn, setup() {} });
const config = (plugins: string[]) => resolveConfig({ root: `/tmp/jinad-plugins-${process.pid}`, databaseUrl: ':memory:', backend: { kind: 'fake' }, plugins, logLevel: 'silent' });

describe('plugin graph', () => {
  it('orders dependencies first', () => {
    assert.deepEqual(orderPlugins([p('flow', ['workspace']), p('logs'), p('workspace')]).map((d) => d.name), ['workspace', 'flow', 'logs']);
  });
  it('names both sides of a missing dependency', () => {
    assert.throws(() => orderPlugins([p('flow', ['workspace'])]), /the dependency 'workspace' of plugin 'flow' is not registered/);
  });
  it('finds cycles and duplicates', () => {
    assert.throws(() => orderPlugins([p('a', ['b']), p('b', ['a'])]), /cycle: a → b → a/);
    assert.throws(() => orderPlugins([p('a'), p('a')]), /registered twice/);
  });
});

describe('plugin loading', () => {
  it("serves a user plugin's routes, validation, status and OpenAPI next to the built-ins", async () => {
    const d = await createDaemon(config(['workspace', fixture('hello')]));
    try {
      const ok = await d.app.request('/hello/ann');
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { hello: string }).hello, 'ann');
      assert.equal((await d.app.request('/hello/toolongname')).status, 422);
      const doc = (await (await d.app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
      assert.ok(doc.paths['/hello/{name}']);
      assert.ok(doc.paths['/workspaces/{id}']);
    } finally {
      await d.close();
    }
  });
  it('a plugin that fails to set up stops start-up, naming it and the cause', async () => {
    await assert.rejects(createDaemon(config(['workspace', fixture('broken')])), /plugin 'broken' failed to set up: the database it wants is missing/);
  });
  it('a missing dependency or folder stops start-up', async () => {
    await assert.rejects(createDaemon(config([fixture('needs-missing')])), /the dependency 'nowhere' of plugin 'needs-missing'/);
    await assert.rejects(createDaemon(config(['no-such-plugin'])), /plugin 'no-such-plugin': no index.ts/);
  });
});
