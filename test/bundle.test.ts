// The daemon as `npm start` runs it: the bundle of src/ and the built-in plugins (src/bundle.mjs),
// on plain Node, with a TypeScript config file and a user's TypeScript plugin folder beside it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, retryFetch } from './helpers.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const node = 'deno' in process.versions ? 'node' : process.execPath;

describe('the bundled daemon (npm start)', () => {
  let dir: string;
  let child: ChildProcess;
  let url: string;
  let stderr = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jinad-bundle-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // A config file in TypeScript (types and all), naming a plugin folder written in TypeScript.
    writeFileSync(
      path.join(dir, 'jinad.config.ts'),
      [
        `import { defineConfig } from ${JSON.stringify(path.join(repo, 'src/config.ts'))};`,
        `const port: number = ${port};`,
        `export default defineConfig({`,
        `  port, root: ${JSON.stringify(path.join(dir, 'root'))}, backend: { kind: 'fake' }, auth: false, logLevel: 'warn',`,
        `  extraPlugins: [${JSON.stringify(path.join(repo, 'test/fixtures/plugins/hello'))}],`,
        `  hello: { greeting: 'hej' },`,
        `});`,
      ].join('\n'),
    );
    child = spawn(node, [path.join(repo, 'src/start.mjs')], { cwd: dir, env: { ...process.env, JINAD_LOGS_PORT: String(await freePort()) }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c) => (stderr += c));
    await retryFetch(`${url}/`, 60_000);
  });

  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs from src/dist/daemon.mjs with the built-in plugins', async () => {
    assert.ok(existsSync(path.join(repo, 'src/dist/daemon.mjs')));
    const res = await fetch(`${url}/workspaces`);
    assert.equal(res.status, 200, stderr);
    const status = (await (await fetch(`${url}/status`)).json()) as Record<string, any>;
    assert.equal(status.jinad.backend, 'fake');
    assert.deepEqual(status.hello, { ok: true }); // the user's plugin, set up
  });

  it("loads the TypeScript config and the user's TypeScript plugin, which shares the daemon's SDK", async () => {
    const hello = (await (await fetch(`${url}/hello/bob`)).json()) as Record<string, string>;
    assert.equal(hello.hej, 'bob'); // its greeting from the config file's slice
    // The plugin's validation fails with the daemon's own error class: a 422, not a 500.
    const bad = await fetch(`${url}/hello/too-long-a-name`);
    assert.equal(bad.status, 422, await bad.text());
  });
});
