/**
 * HTTPS and WSS (fake backend, real TLS on loopback): a CA and a certificate made at run time
 * with openssl; the client and the CLI trust the CA given to them and refuse another.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { JinaDClient, UnreachableError } from '../../src/client/index.ts';
import { startFakeDaemon } from '../helpers.ts';
import { makeTestPki, type TestPki } from '../tls.ts';

const BIN = fileURLToPath(new URL('../../src/cli/bin.mjs', import.meta.url));
/** The CLI is a Node.js program, also when these tests run under Deno. */
const NODE = 'deno' in process.versions ? 'node' : process.execPath;
let pki: TestPki;
let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  pki = makeTestPki();
  d = await startFakeDaemon({ config: { auth: true, tls: { cert: pki.cert, key: pki.key } } });
});
after(async () => {
  await d?.cleanup();
  rmSync(pki.dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('serves HTTPS; a client trusting the test CA works, one trusting another CA or none is refused', async () => {
    assert.match(d.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const good = new JinaDClient(d.url, { token: d.adminToken, cacert: pki.ca });
    assert.equal(((await good.status()) as any).jinad.backend, 'fake');
    const ws = await good.workspaces.create([pki.ca]); // an upload over TLS
    assert.equal((await good.workspaces.get(ws)).state, 'ACTIVE');
    for (const client of [new JinaDClient(d.url, { token: d.adminToken, cacert: pki.otherCa }), new JinaDClient(d.url, { token: d.adminToken })]) {
      await assert.rejects(client.status(), (e: Error) => e instanceof UnreachableError && /certificate/i.test(e.message));
    }
    // The same name with http:// is not answered as HTTP.
    await assert.rejects(fetch(d.url.replace('https', 'http')));
  });

  it('log streams work over WSS with the CA', async () => {
    const client = new JinaDClient(d.url, { token: d.adminToken, cacert: pki.ca });
    const id = await client.workspaces.create([pki.ca]);
    const ws = new WebSocket(`${d.url.replace('https', 'wss')}/logstream/${id}?tail=50`, { ca: readFileSync(pki.ca), headers: { authorization: `Bearer ${d.adminToken}` } });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (m) => resolve(String(m)));
      ws.once('error', reject);
    });
    ws.close();
    assert.equal(JSON.parse(first).workspace_id, id);
  });

  it('the CLI takes --cacert (and JINAD_CACERT) with an https:// host', async () => {
    const run = (args: string[], env: Record<string, string>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(NODE, [BIN, '--host', d.url, ...args], { env: { ...process.env, JINAD_TOKEN: d.adminToken!, ...env } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c) => (stdout += c));
        child.stderr.on('data', (c) => (stderr += c));
        child.once('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const ok = await run(['--cacert', pki.ca, '--json', 'status'], {});
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).jinad.backend, 'fake');
    assert.equal((await run(['--json', 'status'], { JINAD_CACERT: pki.ca })).code, 0);
    const refused = await run(['status'], { JINAD_CACERT: pki.otherCa });
    assert.equal(refused.code, 6);
    assert.match(refused.stderr, /certificate/i);
  });
});
