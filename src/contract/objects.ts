/**
 * Wire shapes of the object routes (/flows, /pods, /peas and kinds plugins add), JinaD 2.0's
 * names, as valibot schemas: they validate requests, generate /openapi.json and type the client.
 */
import * as v from 'valibot';
import { ResourceFields } from './resources.ts';
import { IdleTimeoutField } from './idle.ts';
import { ConstraintsField } from './placement.ts';
import { RestartField } from './restart.ts';
import { storeStatus } from './common.ts';
import { KeyValueError, parseKeyValues } from './kv.ts';

/** `envs=KEY=VALUE`, repeatable; the validated output is the `{KEY: VALUE}` map. */
export const Envs = v.optional(
  v.pipe(
    v.union([v.string(), v.array(v.string())]),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return parseKeyValues(Array.isArray(dataset.value) ? dataset.value : [dataset.value], 'envs');
      } catch (err) {
        if (!(err instanceof KeyValueError)) throw err;
        addIssue({ message: err.message });
        return NEVER;
      }
    }),
    v.description('environment for the object, KEY=VALUE, repeatable'),
  ),
  [],
);

const Replicas = v.pipe(v.string(), v.regex(/^[1-9]\d*$/, 'replicas must be a positive integer'), v.description('the new number of replicas'));
export const ScaleQuery = v.object({ replicas: Replicas, pod_name: v.optional(v.pipe(v.string(), v.minLength(1))) });
export const PodNameQuery = v.object({ pod_name: v.optional(v.pipe(v.string(), v.minLength(1))), dump_path: v.optional(v.string()) });
/** JinaD 2.0/2.1's `PUT /flows/{id}?kind=rolling_update&pod_name=&dump_path=&shards=` (and `kind=scale&replicas=`). */
export const LegacyUpdateQuery = v.object({
  ...PodNameQuery.entries,
  kind: v.picklist(['rolling_update', 'scale'], "kind must be 'rolling_update' or 'scale'"),
  replicas: v.optional(ScaleQuery.entries.replicas),
  /** Accepted as JinaD 2.0 sent it; replicas are not sharded here. */
  shards: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'shards must be a number'))),
});

export const ObjectItem = v.object({
  time_created: v.string(),
  time_updated: v.string(),
  workspace_id: v.string(),
  metadata: v.object({
    container_id: v.string(),
    container_name: v.string(),
    image_id: v.string(),
    network: v.string(),
    ports: v.record(v.string(), v.number()),
    uri: v.string(),
    status: v.pipe(v.string(), v.description('live container state: running, exited, restarting, … or missing')),
    exit_code: v.nullable(v.number()),
    oom_killed: v.pipe(v.boolean(), v.description('the container was killed for going over its memory limit')),
    restart: v.pipe(v.string(), v.description('its restart policy: no, on-failure[:max], always')),
    restarts: v.pipe(v.number(), v.description('times it was started again after it stopped (crash, engine restart, health check, recreated)')),
    last_exit: v.pipe(
      v.nullable(v.object({ time: v.string(), exit_code: v.nullable(v.number()), oom_killed: v.boolean(), reason: v.string() })),
      v.description('the last time it stopped without being asked to, and why'),
    ),
    idle_timeout: v.pipe(v.nullable(v.number()), v.description('seconds without a request before it stops (status idle) until a request wakes it; null: never')),
    wakes: v.pipe(v.number(), v.description('times a request woke it from idle')),
    last_wake: v.pipe(v.nullable(v.string()), v.description('when a request last woke it')),
    tasks: v.optional(
      v.pipe(
        v.array(v.object({ slot: v.number(), node: v.string(), address: v.string(), state: v.string(), error: v.optional(v.string()), ports: v.record(v.string(), v.number()), restarts: v.number() })),
        v.description('on a Swarm: each task, the node it runs on and its state'),
      ),
    ),
  }),
  arguments: v.object({
    object: v.record(v.string(), v.unknown()),
    entrypoint: v.string(),
    envs: v.record(v.string(), v.string()),
    filename: v.optional(v.string()),
    args: v.optional(v.record(v.string(), v.unknown())),
  }),
});
export type ObjectItem = v.InferOutput<typeof ObjectItem>;

export const ObjectStoreStatus = storeStatus(ObjectItem);

const arg = <S extends v.GenericSchema>(schema: S, title: string, description: string) => v.pipe(schema, v.title(title), v.description(description));

/**
 * Jina 2's enum-valued arguments (jina/enums.py): a name (any case, as Jina's `from_string`) or
 * the enum's number, as a Jina-built payload carries them. Checked, so a value Jina would refuse
 * is refused here too (422); the runtime has no use for them.
 */
const JINA_ENUMS = {
  pea_role: ['SINGLETON', 'HEAD', 'TAIL', 'PARALLEL'],
  pod_role: ['POD', 'JOIN', 'INSPECT', 'GATEWAY', 'INSPECT_AUX_PASS', 'JOIN_INSPECT'],
  polling: { ANY: 1, ALL: 2, ALL_ASYNC: 3 },
  scheduling: ['LOAD_BALANCE', 'ROUND_ROBIN'],
  runtime_backend: ['THREAD', 'PROCESS'],
  socket_in: ['PULL_BIND', 'PULL_CONNECT', 'PUSH_BIND', 'PUSH_CONNECT', 'SUB_BIND', 'SUB_CONNECT', 'PUB_BIND', 'PUB_CONNECT', 'PAIR_BIND', 'PAIR_CONNECT', 'ROUTER_BIND', 'DEALER_CONNECT'],
  on_error_strategy: ['IGNORE', 'SKIP_HANDLE', 'THROW_EARLY'],
} as const;
function jinaEnum(key: string, choices: readonly string[] | Record<string, number>) {
  const byName: Record<string, number> = Array.isArray(choices) ? Object.fromEntries(choices.map((n, i) => [n, i])) : (choices as Record<string, number>);
  const values = new Set(Object.values(byName));
  const message = `${key} must be one of ${Object.keys(byName).join(', ')} (Jina's choices)`;
  return v.optional(
    v.nullable(
      v.union([v.pipe(v.string(), v.check((s) => s.toUpperCase() in byName, message)), v.pipe(v.number(), v.check((n) => values.has(n), message))], message),
    ),
  );
}
const JinaEnumFields = {
  ...Object.fromEntries(Object.entries(JINA_ENUMS).map(([k, c]) => [k, jinaEnum(k, c)])),
  socket_out: jinaEnum('socket_out', JINA_ENUMS.socket_in),
} as Record<string, ReturnType<typeof jinaEnum>>;

/** What a Pod or Pea accepts as JSON (as an executor entry of a Flow YAML); `null` is "unset", as Jina's clients send every unset option. */
export const PodArguments = v.looseObject({
  name: v.optional(arg(v.nullable(v.string()), 'Name', 'The name of this object, used in logs and routes')),
  uses: v.optional(arg(v.nullable(v.string()), 'Uses', 'The executor: a class name (with py_modules), or an executor YAML in the workspace')),
  py_modules: v.optional(arg(v.nullable(v.array(v.string())), 'Py Modules', 'TypeScript/JavaScript files in the workspace that define the executor')),
  uses_with: v.optional(arg(v.nullable(v.record(v.string(), v.unknown())), 'Uses With', "Arguments of the executor's constructor")),
  replicas: v.optional(arg(v.nullable(v.number()), 'Replicas', 'Copies of the executor behind a round-robin head (pods)')),
  port_in: v.optional(arg(v.nullable(v.number()), 'Port In', 'Port the object listens on, published on the host with the same number; chosen by Docker if unset')),
  env: v.optional(arg(v.nullable(v.record(v.string(), v.string())), 'Env', 'Environment of the executor process')),
  memory: arg(ResourceFields.memory, 'Memory', "Memory limit of the object's container, e.g. 512m (default: the workspace's .jinad, then the daemon's)"),
  cpus: arg(ResourceFields.cpus, 'CPUs', "CPUs the object's container may use, e.g. 1.5"),
  pids: arg(ResourceFields.pids, 'Pids', "Processes the object's container may run"),
  restart: arg(RestartField, 'Restart', 'What to do when the object exits: no, on-failure[:max] (default), always'),
  constraints: arg(ConstraintsField, 'Constraints', 'Where it may run on a Swarm: node.labels.<key>==<value>, node.hostname!=<name>, node.role==worker; one engine ignores them'),
  idle_timeout: arg(IdleTimeoutField, 'Idle Timeout', 'Seconds without a request after which its containers stop (status idle); the next request wakes it. 0: never'),
  ...JinaEnumFields,
});

/** What a Flow accepts, beside its YAML. */
export const FlowArguments = v.object({
  uses: arg(v.string(), 'Uses', 'The Flow YAML in the workspace (query `filename`)'),
  port_expose: v.optional(arg(v.number(), 'Port Expose', "The gateway's port: from the YAML's with.port_expose, else chosen by Docker")),
  protocol: v.optional(arg(v.picklist(['http', 'websocket', 'grpc']), 'Protocol', 'The gateway protocol, from the YAML')),
  name: v.optional(arg(v.string(), 'Name', 'The name of this object')),
});
