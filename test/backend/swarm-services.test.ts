/** The Swarm backend's mapping, without an engine: an object as a service spec, a service's tasks as its live state. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceSpec, stateOf, type Service, type Task } from '../../src/backend/swarm/services.ts';

const LABELS = { 'io.jinad.instance': 'i', 'io.jinad.kind': 'pod', 'io.jinad.workspace': 'jworkspace-w', 'io.jinad.object': 'jpod-p' };
const service: Service = { ID: 's1', Spec: { Name: 'jpod-p', Labels: LABELS, Mode: { Replicated: { Replicas: 2 } } } };
const nodes = new Map([
  ['n1', { name: 'node1', addr: '10.0.0.11' }],
  ['n2', { name: 'node2', addr: '10.0.0.12' }],
]);
const task = (id: string, slot: number, node: string, state: string, extra: Partial<Task['Status']> = {}, desired = 'running', created = '2026-11-30T10:00:00.000000000Z'): Task => ({
  ID: id,
  ServiceID: 's1',
  NodeID: node,
  Slot: slot,
  CreatedAt: created,
  DesiredState: desired,
  Status: { State: state, Timestamp: created, ...extra },
});
// Docker 20.10 gives a dynamic host-mode port twice: one for IPv4, then one for IPv6.
const ports = (v4: number, v6: number) => ({ PortStatus: { Ports: [{ TargetPort: 8000, PublishedPort: v4, Protocol: 'tcp' }, { TargetPort: 8000, PublishedPort: v6, Protocol: 'tcp' }] } });

describe('Swarm services', () => {
  it('an object is a service: labels on it and its containers, host-mode ports without a VIP, restart policy and limits in Swarm\'s words', () => {
    const spec = serviceSpec(
      { id: 'jpod-p', kind: 'pod', workspaceId: 'jworkspace-w', image: 'x', command: ['node'], env: { A: '1' }, ports: [{ container: 8000 }, { container: 8081, host: 45678 }], workdir: '/w', resources: { memory: 512 * 1024 ** 2, pids: 64 }, restart: { name: 'on-failure', max: 3 } },
      { image: 'reg:5000/jworkspace-u:latest', labels: LABELS, network: 'jworkspace-w', user: '10001:10001', publishMode: 'host', constraints: ['node.labels.gpu==true'], replicas: 3, stopGraceS: 5 },
    ) as any;
    assert.equal(spec.Name, 'jpod-p');
    assert.deepEqual(spec.Labels, LABELS);
    assert.deepEqual(spec.TaskTemplate.ContainerSpec.Labels, LABELS);
    assert.deepEqual(spec.TaskTemplate.ContainerSpec.Env, ['A=1']);
    assert.deepEqual(spec.TaskTemplate.RestartPolicy, { Condition: 'on-failure', Delay: 100_000_000, MaxAttempts: 3 });
    assert.deepEqual(spec.TaskTemplate.Resources.Limits, { MemoryBytes: 512 * 1024 ** 2, Pids: 64 });
    assert.deepEqual(spec.TaskTemplate.Placement.Constraints, ['node.labels.gpu==true']);
    assert.deepEqual(spec.Mode, { Replicated: { Replicas: 3 } });
    assert.equal(spec.UpdateConfig.Order, 'start-first');
    assert.equal(spec.EndpointSpec.Mode, 'dnsrr');
    assert.deepEqual(spec.EndpointSpec.Ports, [
      { Protocol: 'tcp', TargetPort: 8000, PublishMode: 'host' },
      { Protocol: 'tcp', TargetPort: 8081, PublishedPort: 45678, PublishMode: 'host' },
    ]);
  });

  it('its state: running on its first running task\'s node, with that task\'s IPv4 port; every task listed', () => {
    const tasks = [task('t1', 1, 'n1', 'running', ports(30001, 30002)), task('t2', 2, 'n2', 'running', ports(30011, 30012))];
    const state = stateOf(service, tasks, nodes, { publishMode: 'host', reachHost: '127.0.0.1' });
    assert.equal(state.id, 'jpod-p');
    assert.equal(state.kind, 'pod');
    assert.equal(state.running, true);
    assert.equal(state.host, '10.0.0.11');
    assert.deepEqual(state.ports, { '8000/tcp': 30001 });
    assert.deepEqual(
      state.tasks?.map((t) => [t.slot, t.node, t.address, t.state, t.ports]),
      [
        [1, 'node1', '10.0.0.11', 'running', { '8000/tcp': 30001 }],
        [2, 'node2', '10.0.0.12', 'running', { '8000/tcp': 30011 }],
      ],
    );
  });

  it('a task that failed and was replaced counts as a restart of its slot; a new one on the way is `restarting`', () => {
    const tasks = [task('old', 1, 'n1', 'failed', { Err: 'task: non-zero exit (1)', ContainerStatus: { ExitCode: 1 } }, 'shutdown', '2026-11-30T10:00:00Z'), task('new', 1, 'n2', 'starting', {}, 'running', '2026-11-30T10:00:05Z')];
    const state = stateOf({ ...service, Spec: { ...service.Spec, Mode: { Replicated: { Replicas: 1 } } } }, tasks, nodes, { publishMode: 'host', reachHost: '127.0.0.1' });
    assert.equal(state.status, 'restarting');
    assert.equal(state.running, false);
    assert.deepEqual(state.tasks?.map((t) => [t.slot, t.state, t.restarts]), [[1, 'starting', 1]]);
  });

  it('no task Swarm can place: exited, and the task says why', () => {
    const tasks = [task('p', 1, '', 'pending', { Err: 'no suitable node (scheduling constraints not satisfied on 2 nodes)' })];
    const state = stateOf(service, tasks, nodes, { publishMode: 'host', reachHost: '127.0.0.1' });
    assert.equal(state.running, false);
    assert.equal(state.tasks?.[0]?.error, 'no suitable node (scheduling constraints not satisfied on 2 nodes)');
  });
});
