/**
 * Flows: a Flow YAML from a workspace, run in its own object, its gateway published. The YAML
 * is loaded first (with the request's envs) to know the gateway's port: `with.port_expose` is
 * published on the same host port, else the backend picks one.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defineObjectKind, fail, FlowArguments, loadFlow, v } from 'jinad/plugin';

const GATEWAY_PORT = 8080;

export default defineObjectKind({
  kind: 'flow',
  description: 'A Flow from a YAML in a workspace, in its own container, its gateway published on the host',
  create: {
    summary: 'Start a Flow from a YAML in the workspace',
    query: { filename: v.pipe(v.string(), v.minLength(1), v.description('the Flow YAML, relative to the workspace')) },
  },
  arguments: FlowArguments,
  scrape: true, // the gateway serves /metrics
  updates: { podName: 'required' },
  prepare({ query, workspaceId, envs }, { workdir, env, python }) {
    const rel = query.filename as string;
    const file = path.resolve(workdir, rel);
    if (!file.startsWith(`${workdir}${path.sep}`)) throw fail('invalid_definition', `filename '${rel}' must be a path inside the workspace`);
    if (!existsSync(file)) throw fail('file_not_found', `File \`${rel}\` not found in workspace \`${workspaceId}\``);
    const flow = loadFlow(file, env, { root: workdir, python }); // a user's file in a folder containers write: confined
    const gateway = flow.portExpose ?? GATEWAY_PORT;
    const replicas = Object.fromEntries(flow.executors.filter((e) => !e.host).map((e) => [e.name, e.replicas]));
    return { ports: [{ container: gateway, host: flow.portExpose, direct: true }], partialBody: { flow: { uses: rel, port_expose: gateway }, envs }, record: { filename: rel }, replicas, idleTimeout: flow.idleTimeout,
      ...(flow.protocol === 'grpc' && { notIdle: 'a gRPC gateway cannot be held while the Flow sleeps (use http or websocket)', scrape: false as const }) };
  },
});
