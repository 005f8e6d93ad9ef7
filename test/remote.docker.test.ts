/**
 * Remote Executors: a Flow run locally (no Docker) whose middle steps are deployed through two
 * JinaDs on loopback sharing one Docker Engine (test_remote_flow, test_upload_via_yaml,
 * test_upload_multiple_workspaces and test_cache_validate of the original, for this runtime).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JinaDClient } from '../src/client/index.ts';
import { Flow, parseFlow } from '../src/runtime/index.ts';
import { startDaemon, type TestDaemon } from './helpers.ts';
import { makeTestPki, type TestPki } from './tls.ts';

const dir = fileURLToPath(new URL('./fixtures/runtime/', import.meta.url));
let a: TestDaemon;
let b: TestDaemon;
let pki: TestPki;
/** What the Flow YAML's `${{ ENV.X }}` see: each daemon's token, and the CA of b's certificate. */
let env: Record<string, string>;
before(async () => {
  pki = makeTestPki();
  // a asks for a token; b also serves HTTPS only.
  [a, b] = await Promise.all([startDaemon({ config: { auth: true } }), startDaemon({ config: { auth: true, tls: { cert: pki.cert, key: pki.key } } })]);
  env = { TOKEN_A: a.adminToken!, TOKEN_B: b.adminToken!, CA_B: pki.ca };
});
after(async () => {
  await a?.cleanup();
  await b?.cleanup();
  rmSync(pki.dir, { recursive: true, force: true });
});
const clientOf = (d: TestDaemon) => new JinaDClient(d.url, { token: d.adminToken, cacert: pki.ca });

const yaml = (replicas: number, workspaceId: string) => `jtype: Flow
executors:
  - name: first
    uses: Tagger
    py_modules: [executors.ts]
    uses_with: {tag: local}
  - name: middle
    uses: Tagger
    py_modules: [executors.ts]
    uses_with: {tag: through-daemon-a}
    host: 127.0.0.1:${a.url.split(':').pop()}
    token: \${{ ENV.TOKEN_A }}
    workspace_id: ${workspaceId}
  - name: scalable
    uses: tagger.yml
    upload_files: [executors.ts]
    host: 127.0.0.1
    port_jinad: ${b.url.split(':').pop()}
    https: true
    cacert: \${{ ENV.CA_B }}
    token: \${{ ENV.TOKEN_B }}
    replicas: ${replicas}
  - name: last
    uses: ReplicaTagger
    py_modules: [executors.ts]
`;
const index = async (flow: Flow, n: number) => {
  const res = await fetch(`http://127.0.0.1:${flow.port}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: Array.from({ length: n }, (_, i) => `doc ${i}`) }) });
  return ((await res.json()) as any).data.docs as any[];
};

describe('remote Executors', () => {
  for (const replicas of [1, 2]) {
    it(`a local Flow routes through executors on two daemons (replicas ${replicas}); closing it removes the remote Pods`, async () => {
      const flow = await new Flow(parseFlow(yaml(replicas, randomUUID()), { where: 'remote.yml', dir, env }), { host: '127.0.0.1' }).start();
      try {
        const docs = await index(flow, 100);
        assert.equal(docs.length, 100);
        for (const d of docs) assert.deepEqual([d.tags.first, d.tags.middle, d.tags.scalable], ['local', 'through-daemon-a', 'from-executor-yaml']);
        const podsOnB = await clientOf(b).pods.list();
        const [pod] = Object.values(podsOnB.items);
        assert.equal(pod!.arguments.object.arguments && (pod!.arguments.object.arguments as any).replicas, replicas);
      } finally {
        await flow.close();
      }
      for (const d of [a, b]) assert.deepEqual((await clientOf(d).pods.list()).items, {}, 'the remote Pods are gone');
    });
  }

  it('a local TypeScript Flow uses a Python Executor deployed on the daemon (its workspace there gets Python)', async () => {
    const pyDir = fileURLToPath(new URL('./fixtures/python/', import.meta.url));
    const spec = parseFlow(
      `executors:\n  - name: upper\n    uses: Upper\n    py_modules: [upper.ts]\n  - name: encoder\n    uses: CharEncoder\n    py_modules: [executors.py]\n    uses_with: {dim: 4}\n    host: 127.0.0.1:${a.url.split(':').pop()}\n    token: \${{ ENV.TOKEN_A }}\n`,
      { where: 'remote.yml', dir: pyDir, env },
    );
    const flow = await new Flow(spec, { host: '127.0.0.1' }).start();
    try {
      const [doc] = await index(flow, 1);
      assert.equal(doc.text, 'DOC 0');
      assert.deepEqual([doc.embedding.dense.dtype, doc.embedding.dense.shape], ['<f4', [4]]);
    } finally {
      await flow.close();
    }
  });

  it('a second Flow with the same workspace_id reuses the remote workspace (no upload, no rebuild)', async () => {
    const wsId = randomUUID();
    const client = clientOf(a);
    const first = await new Flow(parseFlow(yaml(1, wsId), { where: 'remote.yml', dir, env }), { host: '127.0.0.1' }).start();
    await first.close();
    const before = await client.workspaces.get(`jworkspace-${wsId}`);
    const second = await new Flow(parseFlow(yaml(1, wsId), { where: 'remote.yml', dir, env }), { host: '127.0.0.1' }).start();
    try {
      assert.equal((await index(second, 3))[0].tags.middle, 'through-daemon-a');
    } finally {
      await second.close();
    }
    const afterwards = await client.workspaces.get(`jworkspace-${wsId}`);
    assert.equal(afterwards.time_updated, before.time_updated, 'the workspace was not built again');
    assert.equal(afterwards.state, 'ACTIVE');
  });

  it("an unreachable daemon stops the Flow's start with its message", async () => {
    const spec = parseFlow('executors:\n  - name: far\n    uses: Tagger\n    py_modules: [executors.ts]\n    host: 127.0.0.1:1\n', { where: 'remote.yml', dir, env });
    await assert.rejects(new Flow(spec, { host: '127.0.0.1' }).start(), /far: the JinaD at http:\/\/127\.0\.0\.1:1 cannot be reached/);
    const failing = parseFlow(`executors:\n  - name: broken\n    uses: Nothing\n    py_modules: [executors.ts]\n    host: 127.0.0.1:${a.url.split(':').pop()}\n    token: \${{ ENV.TOKEN_A }}\n`, { where: 'remote.yml', dir, env });
    await assert.rejects(new Flow(failing, { host: '127.0.0.1' }).start(), /executor class 'Nothing' is not exported by executors\.ts/);
    // Without its token, the daemon refuses the step, and the Flow says so.
    const noToken = parseFlow(`executors:\n  - name: anon\n    uses: Tagger\n    py_modules: [executors.ts]\n    host: 127.0.0.1:${a.url.split(':').pop()}\n`, { where: 'remote.yml', dir, env: {} });
    await assert.rejects(new Flow(noToken, { host: '127.0.0.1' }).start(), /authentication required/);
  });
});
