// The bundled daemon (`npm start`) on the real engine: it builds the runtime base image from the
// same sources (the bundle must not change a byte of what it generates) and runs a Flow that answers.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createWorkspace, freePort, removeLabelled, retryFetch } from './helpers.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const executors = readFileSync(path.join(repo, 'test/fixtures/runtime/executors.ts'));
const instance = `test-bundle-${process.pid}`;
const root = mkdtempSync(path.join(tmpdir(), 'jinad-bundle-'));
let child: ChildProcess | undefined;

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await removeLabelled(instance);
  rmSync(root, { recursive: true, force: true });
});

describe('the bundled daemon on the Docker Engine', () => {
  it('runs a Flow that answers', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let stderr = '';
    const node = 'deno' in process.versions ? 'node' : process.execPath;
    child = spawn(node, [path.join(repo, 'src/start.mjs'), '--port', String(port), '--root', root, '--auth', 'off'], {
      cwd: root,
      env: { ...process.env, JINAD_INSTANCE: instance, JINAD_LOGS_PORT: String(await freePort()), JINAD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (c) => (stderr += c));
    await retryFetch(`${url}/`, 120_000);
    const flow = 'jtype: Flow\nexecutors:\n  - name: tag\n    uses: Tagger\n    py_modules: [executors.ts]\n';
    const { id } = await createWorkspace(url, { 'executors.ts': executors, 'flow.yml': flow });
    const res = await fetch(`${url}/flows?workspace_id=${id}&filename=flow.yml`, { method: 'POST' });
    assert.equal(res.status, 201, `${await res.clone().text()}\n${stderr}`);
    const flowId = (await res.json()) as string;
    const item = (await (await fetch(`${url}/flows/${flowId}`)).json()) as { metadata: { ports: Record<string, number> } };
    const gateway = item.metadata.ports['8080/tcp']; // 8000: its partial daemon
    const answer = await fetch(`http://127.0.0.1:${gateway}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: ['hi'] }) });
    assert.equal(answer.status, 200);
    assert.match(JSON.stringify(await answer.json()), /"tag":"tagged"/);
  });
});
