/** Flows on real processes over loopback: sequence, DAG, replicas, scale, rolling update, errors. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Flow, loadFlow, Pod } from '../../src/runtime/index.ts';
import { freePort } from '../helpers.ts';
import { distinctTag, fixture, post } from './helpers.ts';

const flows: Flow[] = [];
/** A step of a Flow known to run here (not on a remote JinaD). */
const local = (flow: Flow, name: string) => flow.pods.get(name) as Pod;
after(async () => {
  for (const f of flows) await f.close();
});
async function start(file: string, env: Record<string, string> = {}) {
  const flow = await new Flow(loadFlow(fixture(file), env), { host: '127.0.0.1' }).start();
  flows.push(flow);
  return flow;
}

describe('Flows', () => {
  it('runs two executors in sequence; uses_with reaches the constructor', async () => {
    const flow = await start('seq.yml');
    const out = await post(flow.port!, '/index', { data: [{ text: 'hello' }, 'world'] });
    assert.deepEqual(out.data.docs.map((d: any) => d.text), ['HELLO', 'WORLD']);
    assert.deepEqual(out.data.docs.map((d: any) => d.tags.first), ['one', 'one']);
    assert.deepEqual(out.routes.map((r: any) => r.pod), ['first', 'second']);
    assert.equal(out.status.code, 0);
  });

  it('merges two parallel branches at a join', async () => {
    const flow = await start('dag.yml');
    const out = await post(flow.port!, '/post', { exec_endpoint: '/index', data: [{ id: 'a', text: 'x' }, { id: 'b', text: 'y' }] });
    assert.deepEqual(out.data.docs.map((d: any) => d.id), ['a', 'b']);
    for (const d of out.data.docs) assert.deepEqual(d.tags, { left: 'L', right: 'R', branches: 2 });
    assert.deepEqual(out.routes.map((r: any) => r.pod).sort(), ['join', 'left', 'right']);
  });

  it('an executor YAML gives the class, its module and `with`; uses_with overrides it', async () => {
    const flow = await start('exec-yaml.yml');
    const out = await post(flow.port!, '/index', { data: ['x'] });
    assert.deepEqual(out.data.docs[0].tags, { byfile: 'from-executor-yaml', overridden: 'overridden' });
  });

  it('substitutes ${{ ENV.X }}: the port, the replica count and an executor argument', async () => {
    const port = await freePort();
    const flow = await start('replicas.yml', { FLOW_PORT: String(port), REPLICAS: '2', VERSION: 'from-env' });
    assert.equal(flow.port, port);
    const out = await post(port, '/index', { data: ['x'] });
    assert.equal(out.data.docs[0].tags.version, 'from-env');
  });

  it('spreads requests over replicas, and scales 1 → 3 → 1 in place', async () => {
    const flow = await start('replicas.yml', { FLOW_PORT: String(await freePort()), REPLICAS: '1', VERSION: 'v' });
    assert.equal((await distinctTag(flow.port!, 'replica_id')).size, 1);
    await flow.scale('scalable', 3);
    assert.deepEqual([...(await distinctTag(flow.port!, 'replica_id'))].sort(), [0, 1, 2]);
    const before = local(flow, 'scalable').pids;
    await flow.scale('scalable', 1);
    assert.equal((await distinctTag(flow.port!, 'pid')).size, 1);
    assert.deepEqual(local(flow, 'scalable').pids, before.slice(0, 1));
    await assert.rejects(flow.scale('nope', 2), /no executor named 'nope'/);
  });

  it('rolling_update replaces replicas one by one with no failed request under load', async () => {
    const flow = await start('replicas.yml', { FLOW_PORT: String(await freePort()), REPLICAS: '3', VERSION: 'old' });
    const oldPids = new Set(local(flow, 'scalable').pids);
    let stop = false;
    let failures = 0;
    let ok = 0;
    const versions = new Set<string>();
    const worker = async () => {
      while (!stop) {
        try {
          const out = await post(flow.port!, '/index', { data: ['a', 'b'], parameters: { sleep_ms: 2 } });
          if (out.status.code !== 0) failures++;
          else ok++;
          for (const d of out.data.docs) versions.add(d.tags.version);
        } catch {
          failures++;
        }
      }
    };
    const load = Promise.all(Array.from({ length: 6 }, worker));
    await new Promise((r) => setTimeout(r, 200));
    await flow.rollingUpdate('scalable', { version: 'new' });
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await load;
    assert.equal(failures, 0, `${failures} failed of ${failures + ok}`);
    assert.ok(ok > 50, `only ${ok} requests ran`);
    assert.deepEqual([...versions].sort(), ['new', 'old']);
    assert.deepEqual([...(await distinctTag(flow.port!, 'version', 30))], ['new']);
    assert.ok(local(flow, 'scalable').pids.every((p) => !oldPids.has(p)));
  });

  it('an executor that throws gives an ERROR response, and the Flow keeps serving', async () => {
    const flow = await start('seq.yml');
    const bad = await post(flow.port!, '/post', { exec_endpoint: '/fail', data: ['x'] });
    assert.equal(bad.status.code, 3);
    assert.match(bad.status.description, /second: TypeError: this executor refuses \/fail/);
    assert.equal(bad.status.exception.name, 'TypeError');
    assert.deepEqual(bad.status.exception.args, ['this executor refuses /fail']);
    assert.equal(bad.status.exception.executor, 'second');
    assert.ok(bad.status.exception.stacks.length > 1);
    const good = await post(flow.port!, '/index', { data: ['still'] });
    assert.equal(good.data.docs[0].text, 'STILL');
  });

  it('target_peapod sends a request to matching executors only', async () => {
    const flow = await start('seq.yml');
    const out = await post(flow.port!, '/post', { exec_endpoint: '/index', target_peapod: 'second', data: ['x'] });
    assert.equal(out.data.docs[0].text, 'X');
    assert.equal(out.data.docs[0].tags?.first, undefined);
  });

  it('a missing executor module fails the start with the runtime message, leaving no process', async () => {
    await assert.rejects(new Flow(loadFlow(fixture('missing-module.yml')), { port: 0 }).start(), /broken: can not find executor_ex\.ts/);
  });

  it('plain JavaScript executors declare endpoints with a static map', async () => {
    const { parseFlow } = await import('../../src/runtime/index.ts');
    const spec = parseFlow('executors:\n  - name: p\n    uses: Plain\n    py_modules: [plain.mjs]\n', { where: 'inline.yml', dir: fixture('.') });
    const flow = await new Flow(spec, { port: 0, host: '127.0.0.1' }).start();
    flows.push(flow);
    assert.equal((await post(flow.port!, '/index', { data: ['x'] })).data.docs[0].tags.plain, 'index');
    assert.equal((await post(flow.port!, '/search', { data: ['x'] })).data.docs[0].tags.plain, 'default');
  });
});
