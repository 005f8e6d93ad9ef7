/**
 * `jinad flow|pod|pea|partial`: run one object of the runtime in the foreground, locally or in a
 * container. Logs each request with its timing; SIGINT/SIGTERM close executors and exit.
 *
 *   jinad flow --uses flow.yml [--port-expose 12345] [--env K=V]
 *   jinad pod  --uses MyExecutor --py-modules executor.ts [--uses-with '{"a":1}'] [--replicas 2] [--port-in 45678]
 *   jinad pea  --uses MyExecutor --py-modules executor.ts [--port-in 45678]
 *   jinad partial --mode flow|pod|pea [--port 8000] [--workspace /workspace] [--state /tmp/jinad-partial.json]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import { executorSpec, loadFlow, parseEnvs } from './config.ts';
import { Flow } from './flow.ts';
import { receiveHandedPorts } from './handed-ports.ts';
import { portOf, serveHead } from './head.ts';
import { partialApp, type Mode } from './partial.ts';
import { releasePrestarted, StartError } from './pea.ts';
import { Pod } from './pod.ts';

// In a container (partial mode) Docker stamps every line with its time; elsewhere we do.
let stamp = true;
const log = (line: string) => process.stdout.write(stamp ? `${new Date().toISOString()} ${line}\n` : `${line}\n`);

function onSignal(close: () => Promise<void>) {
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig} received, closing`);
    await close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      uses: { type: 'string' },
      'py-modules': { type: 'string', multiple: true },
      'uses-with': { type: 'string' },
      name: { type: 'string' },
      replicas: { type: 'string' },
      'port-in': { type: 'string' },
      'port-expose': { type: 'string' },
      env: { type: 'string', multiple: true },
      mode: { type: 'string' },
      state: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      workspace: { type: 'string' },
    },
  });
  const env = parseEnvs(values.env);
  Object.assign(process.env, env);
  const workspace = path.resolve(values.workspace ?? process.cwd());

  if (command === 'flow') {
    if (!values.uses) throw new Error('jinad flow needs --uses <flow.yml>');
    const spec = loadFlow(values.uses, process.env);
    const flow = await new Flow(spec, { port: values['port-expose'] ? Number(values['port-expose']) : undefined, host: values.host, onLog: log, logRequests: true }).start();
    onSignal(() => flow.close()); // before saying ready: whoever reads "ready" may signal at once
    log(`Flow ready: http://${values.host ?? '0.0.0.0'}:${flow.port} (${[...flow.pods.keys()].join(' → ') || 'no executors'})`);
  } else if (command === 'pod' || command === 'pea') {
    const args = {
      name: values.name,
      uses: values.uses,
      py_modules: values['py-modules'],
      uses_with: values['uses-with'] ? JSON.parse(values['uses-with']) : undefined,
      replicas: command === 'pea' ? 1 : values.replicas ? Number(values.replicas) : undefined,
      port_in: values['port-in'] ? Number(values['port-in']) : undefined,
    };
    const spec = executorSpec(args, { dir: workspace, where: `${command} arguments`, env: process.env });
    const pod = await new Pod(spec, { workspace, onLog: log, host: command === 'pea' ? values.host ?? '0.0.0.0' : '127.0.0.1', port: command === 'pea' ? spec.portIn : undefined }).start();
    const head = command === 'pod' ? await serveHead(pod, values.host ?? '0.0.0.0', spec.portIn ?? 0) : undefined;
    onSignal(async () => {
      head?.close();
      await pod.close();
    });
    log(`${command} ${spec.name} ready on port ${head ? portOf(head) : pod.port} (${pod.replicaCount} replica(s))`);
  } else if (command === 'partial') {
    stamp = false;
    receiveHandedPorts(log);
    const mode = values.mode as Mode;
    if (!['flow', 'pod', 'pea'].includes(mode)) throw new Error("jinad partial needs --mode flow|pod|pea");
    const partial = partialApp(mode, { workspace, onLog: log, logRequests: true, stateFile: values.state });
    const port = Number(values.port ?? 8000);
    // The object starts with the process (the daemon's create arguments, or after a restart the
    // state file's), while the API already answers: whoever asks GET /<mode> gets the outcome.
    // One that cannot resume exits non-zero, and the restart policy decides what next.
    const first = process.env.JINAD_PARTIAL_START;
    delete process.env.JINAD_PARTIAL_START; // not the executors' business
    partial.boot(first ? (JSON.parse(first) as { args: Record<string, unknown>; envs: Record<string, string> }) : undefined).then(
      (how) => {
        if (!how) return; // nothing to start yet (a warm spare): its blank Pea waits for the object
        const early = releasePrestarted();
        if (how === 'resumed') log(`${mode} resumed after a restart${early.adopted ? ` (${early.adopted} Pea(s) started with the container)` : ''}`);
      },
      (err: Error) => {
        log(`${mode} could not resume: ${err.stack ?? err.message}${err instanceof StartError ? `\n${err.lines.join('\n')}` : ''}`);
        process.exit(1);
      },
    );
    const server = serve({ fetch: partial.app.fetch, port, hostname: values.host ?? '0.0.0.0' }, () => log(`partial daemon (${mode}) listening on port ${port}`));
    onSignal(async () => {
      server.close();
      await partial.stop(true); // stopping the container: the object runs again when it starts
    });
  } else {
    throw new Error(`usage: jinad flow|pod|pea|partial … (got '${command ?? ''}')`);
  }
}

/** Run a command; on failure print the message (and the executor's output) and exit 1. */
export async function run(argv: string[]): Promise<void> {
  try {
    await main(argv);
  } catch (err) {
    process.stderr.write(`jinad: ${(err as Error).message}\n`);
    if (err instanceof StartError && err.lines.length) process.stderr.write(`${err.lines.join('\n')}\n`);
    process.exit(1);
  }
}
