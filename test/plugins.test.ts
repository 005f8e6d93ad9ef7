import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { describe, it } from 'node:test';
import { resolveConfig } from '../src/config.ts';
import { createDaemon } from '../src/daemon.ts';
import { ERROR_STATUS, type ErrorCode, fail } from '../src/errors.ts';
import { errorResponse } from '../src/http/errors.ts';
import { orderPlugins } from '../src/plugin/loader.ts';
import type { PluginDefinition } from '../src/plugin/define.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/plugins/${name}`, import.meta.url));
const p = (name: string, dependsOn: string[] = []): PluginDefinition => ({ name, dependsOn, setup() {} });
const config = (plugins: string[]) => resolveConfig({ root: `/tmp/jinad-plugins-${process.pid}`, databaseUrl: ':memory:', backend: { kind: 'fake' }, auth: false, plugins, logLevel: 'silent' });

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
  it("a plugin folder outside the project imports the SDK as 'jinad/plugin'", async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-user-plugin-')), 'hello');
    cpSync(fixture('hello'), dir, { recursive: true });
    const d = await createDaemon(config(['workspace', dir]));
    try {
      assert.equal((await d.app.request('/hello/ann')).status, 200);
    } finally {
      await d.close();
      rmSync(path.dirname(dir), { recursive: true, force: true });
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

describe('plugin options and lifecycle', () => {
  const withSlice = (slice: Record<string, unknown>, raw: { env?: Record<string, string>; flags?: Record<string, string> } = {}) =>
    resolveConfig([{ root: `/tmp/jinad-plugins-${process.pid}`, databaseUrl: ':memory:', backend: { kind: 'fake' }, auth: false, plugins: ['workspace', fixture('hello')], logLevel: 'silent' }, slice], raw);
  const greeting = async (cfg: ReturnType<typeof withSlice>) => {
    const d = await createDaemon(cfg);
    try {
      return Object.keys((await (await d.app.request('/hello/ann')).json()) as object)[0];
    } finally {
      await d.close();
    }
  };

  it("a plugin's config slice comes from the file, then JINAD_<NAME>_<KEY>, then --<name>-<key>", async () => {
    assert.equal(await greeting(withSlice({})), 'hello');
    assert.equal(await greeting(withSlice({ hello: { greeting: 'hi' } })), 'hi');
    assert.equal(await greeting(withSlice({ hello: { greeting: 'hi' } }, { env: { JINAD_HELLO_GREETING: 'hey' } })), 'hey');
    assert.equal(await greeting(withSlice({}, { env: { JINAD_HELLO_GREETING: 'hey' }, flags: { 'hello-greeting': 'yo' } })), 'yo');
  });

  it('a bad option or a slice naming no plugin stops start-up, naming the key', async () => {
    await assert.rejects(createDaemon(withSlice({ hello: { greeting: '' } })), /hello\.greeting: Invalid length/);
    await assert.rejects(createDaemon(withSlice({ hello: { nope: 1 } })), /hello\.nope: Invalid key/);
    await assert.rejects(createDaemon(withSlice({ nobody: { x: 1 } })), /'nobody' is neither a setting nor a plugin's name/);
  });

  it('a start step that fails stops start-up, naming the plugin: the log receiver cannot listen', async () => {
    // The socket's folder cannot be made: a file is in its place.
    const blocker = `/tmp/jinad-plugins-${process.pid}-blocker`;
    writeFileSync(blocker, '');
    try {
      const d = await createDaemon(resolveConfig({ root: `/tmp/jinad-plugins-${process.pid}`, databaseUrl: ':memory:', backend: { kind: 'fake' }, logLevel: 'silent', port: 0, logs: { socket: `${blocker}/logs.sock` } }));
      await assert.rejects(d.start(), new RegExp(`plugin 'logs' failed to start: the log receiver cannot listen on ${blocker}/logs\\.sock`));
      await d.close();
    } finally {
      rmSync(blocker, { force: true });
    }
  });
});

describe('errors', () => {
  it('domain codes map to their status in one table; a server misconfiguration is 503', async () => {
    const app = new Hono();
    app.onError((e, c) => errorResponse(c, e, () => {}));
    app.get('/:code', (c) => {
      throw fail(c.req.param('code') as ErrorCode, 'why', ['line']);
    });
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      const res = await app.request(`/${code}`);
      assert.equal(res.status, status, code);
      assert.equal(((await res.json()) as { code: string }).code, code);
    }
    assert.equal(ERROR_STATUS.base_image_missing, 503);
  });
});
