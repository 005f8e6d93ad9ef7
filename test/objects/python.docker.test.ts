/**
 * Python Executors on the real Docker Engine: a Jina 2 project (executors.py, flow.yml,
 * requirements.txt naming `jina` and a wheel the test builds) becomes a workspace on the Python
 * runtime image (this machine's Python, with numpy and msgpack from Debian and the runtime's
 * `jina` package), and its Flows answer: index then search with cosine matches, a Flow mixing
 * TypeScript and Python, a crash that fails its request and comes back; print and self.logger
 * lines in the Flow's log. A workspace without Python is told how to add it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { callJson, createWorkspace, freePort, pureWheel, retryFetch, startDaemon, type TestDaemon, untilItem } from '../helpers.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/python/', import.meta.url));

/** A pure-Python wheel the Executors' project requires (PyPI is out of reach: pip finds it in the upload). */
const helperWheel = () => pureWheel('texthelp', '1.0', { 'texthelp/__init__.py': 'def clean(text):\n    return " ".join(text.split())\n' });

let d: TestDaemon;
let ws: string;
before(async () => {
  d = await startDaemon({ config: { pip: { findLinks: ['wheels'], noIndex: true } } });
  const files: Record<string, string | Buffer> = Object.fromEntries(readdirSync(FIXTURES).map((f) => [f, readFileSync(`${FIXTURES}${f}`)]));
  files['requirements.txt'] = 'jina==2.0.0\nnumpy\ntexthelp==1.0\n';
  files['wheels/texthelp-1.0-py3-none-any.whl'] = helperWheel();
  const created = await createWorkspace(d.url, files);
  assert.equal(created.item.state, 'ACTIVE', `${created.item.reason}\n${(created.item.log_tail ?? []).join('\n')}`);
  ws = created.id;
});
after(() => d?.cleanup());

const api = (method: string, path: string, body?: unknown) => callJson(d.url, method, path, body);
const gatewayPort = (item: any) => Object.entries(item.metadata.ports).find(([k]) => k !== '8000/tcp')![1] as number;
async function flow(filename: string, query: Record<string, string> = {}) {
  const r = await api('POST', `/flows?${new URLSearchParams({ workspace_id: ws, filename, ...query })}`);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const port = gatewayPort((await api('GET', `/flows/${r.body}`)).body);
  await retryFetch(`http://127.0.0.1:${port}/`, 15_000);
  return { id: r.body as string, port };
}
async function call(port: number, endpoint: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/post`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, exec_endpoint: endpoint }) });
  assert.equal(res.status, 200);
  return res.json();
}

describe('Python Executors in containers', () => {
  it('index then search gives scored matches; the Executor\'s print and self.logger lines are in the Flow\'s log', async () => {
    const { id, port } = await flow('flow.yml');
    const texts = ['hello world', 'hello there', 'jina executors', 'world peace'];
    const indexed = await call(port, '/index', { data: texts.map((text, i) => ({ id: `d${i}`, text })) });
    assert.equal(indexed.status.code, 0, JSON.stringify(indexed.status));
    assert.deepEqual([indexed.data.docs[0].embedding.dense.dtype, indexed.data.docs[0].embedding.dense.shape], ['<f4', [8]]);
    const found = await call(port, '/search', { data: [{ text: 'hello world' }], parameters: { top_k: 2 } });
    const matches = found.data.docs[0].matches;
    assert.equal(matches.length, 2);
    assert.equal(matches[0].id, 'd0'); // the same text: distance 0
    assert.ok(matches[0].scores.cosine.value < 1e-6 && matches[0].scores.cosine.value <= matches[1].scores.cosine.value, JSON.stringify(matches));
    const deadline = Date.now() + 15_000;
    let log = '';
    while (Date.now() < deadline && !(/CharEncoder ready with 8 dimensions/.test(log) && /encoding 4 documents/.test(log))) {
      log = await (await fetch(`${d.url}/logs/${id}`)).text();
    }
    assert.match(log, /CharEncoder ready with 8 dimensions/);
    assert.match(log, /encoding 4 documents/);
    assert.equal((await api('DELETE', `/flows/${id}`)).status, 200);
  });

  it('a Flow mixing TypeScript and Python; a crash fails its request with the traceback and the worker comes back', async () => {
    const mixed = await flow('mixed.yml');
    const out = await call(mixed.port, '/index', { data: ['abc'] });
    assert.deepEqual([out.data.docs[0].text, out.data.docs[0].tags.dims], ['ABC', 4]);
    const replies = await flow('replies.yml');
    const crashed = await call(replies.port, '/crash', { data: ['a'] });
    assert.equal(crashed.status.code, 3);
    assert.match(crashed.status.description, /the Python worker exited with code 3/);
    const raised = await call(replies.port, '/raise', { data: ['this'] });
    assert.match(raised.status.exception.stacks.join('\n'), /executors\.py", line \d+, in fail/);
    const dict = await call(replies.port, '/dict', { data: ['a'], parameters: { x: 1 } });
    assert.deepEqual(dict.parameters.__results__.replies, { seen: 1, asked: 1 });
  });

  it('sleeps when idle and wakes (in a warm spare) on the next request, its Python Executors loaded again', async () => {
    const { id, port } = await flow('flow.yml', { idle_timeout: '1' });
    await untilItem(d.url, `/flows/${id}`, (i: any) => i.metadata.status === 'idle', 30_000);
    const out = await call(port, '/index', { data: ['wake'] });
    assert.equal(out.status.code, 0, JSON.stringify(out.status));
    assert.deepEqual([out.data.docs[0].text, out.data.docs[0].embedding.dense.dtype, out.data.docs[0].embedding.dense.shape], ['wake', '<f4', [8]]);
    assert.equal((await api('GET', `/flows/${id}`)).body.metadata.wakes, 1);
    // The spare's blank Pea (one, taken by the first Pea) had its Python worker started ahead, and the encoder took that one.
    const started = execFileSync('docker', ['exec', id, 'sh', '-c', 'grep -l JINAD_PY_BLANK /proc/[0-9]*/environ || true']).toString();
    assert.match(started, /\/proc\/\d+\/environ/, 'a Python worker started ahead runs the Executor');
    assert.equal((await api('DELETE', `/flows/${id}`)).status, 200);
  });

  it('an app.py custom project (`.jinad` run = "python app.py"): `from jina import Flow` starts the Flow in its container', async () => {
    const port = await freePort();
    const files = Object.fromEntries(['app.py', 'executors.py'].map((f) => [f, readFileSync(`${FIXTURES}${f}`)]));
    const app = await createWorkspace(d.url, { ...files, '.jinad': `python = 3\nports = ${port}\nrun = "python app.py ${port}"\n` });
    assert.equal(app.item.state, 'ACTIVE', app.item.reason);
    await retryFetch(`http://127.0.0.1:${port}/`, 60_000);
    let found: any;
    const deadline = Date.now() + 30_000;
    do found = await call(port, '/search', { data: [{ text: 'hello world' }], parameters: { top_k: 1 } }); // until app.py has indexed
    while (!found.data.docs[0].matches?.length && Date.now() < deadline);
    assert.equal(found.data.docs[0].matches[0].id, 'd0');
  });

  it("a constructor that raises is a 400 with its traceback; a workspace without Python is told how to add it", async () => {
    const broken = await api('POST', `/flows?${new URLSearchParams({ workspace_id: ws, filename: 'broken.yml' })}`);
    assert.equal(broken.status, 400);
    assert.match(JSON.stringify(broken.body), /RuntimeError: no model file here/);
    const plain = await createWorkspace(d.url, { 'executors.py': readFileSync(`${FIXTURES}executors.py`), 'flow.yml': readFileSync(`${FIXTURES}flow.yml`), 'encoder.yml': readFileSync(`${FIXTURES}encoder.yml`) });
    assert.equal(plain.item.state, 'ACTIVE');
    const refused = await api('POST', `/flows?${new URLSearchParams({ workspace_id: plain.id, filename: 'flow.yml' })}`);
    assert.equal(refused.status, 400);
    assert.match(refused.body.detail, /this workspace has no Python: add a requirements\.txt or `python = 3` to \.jinad/);
  });
});
