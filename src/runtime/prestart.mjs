// A restarted or woken object's Peas, started at once as its container starts, while the partial
// daemon loads the runtime: two processes starting side by side instead of one after the other
// (measured in bench/serverless.ts). The state file lists how each Pea was started last time;
// the runtime adopts a Pea started here when it would start the very same one (pea.ts), and
// stops the others once the object runs. Plain JavaScript, loaded before the bundled runtime.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const PRESTARTED = Symbol.for('jinad.prestarted');

/** `argv`: the partial daemon's (`partial --mode … --state <file>`); `worker`: the bundled pea-worker. */
export function prestart(argv, worker) {
  const at = argv.indexOf('--state');
  if (at < 0) return;
  let peas;
  try {
    peas = JSON.parse(readFileSync(argv[at + 1], 'utf8')).peas;
  } catch {
    return; // never started here
  }
  if (!Array.isArray(peas)) return;
  const { JINAD_PARTIAL_START: _, ...env } = process.env;
  const started = new Map();
  for (const { config, env: own, cwd } of peas) {
    const child = fork(worker, [], { execArgv: [], cwd, env: { ...env, ...own, JINAD_PEA: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    // Its output waits in its pipes; its messages (ready, error) and its exit are kept for whoever adopts it.
    const early = { child, messages: [], exit: undefined };
    early.keep = (m) => early.messages.push(m);
    child.on('message', early.keep);
    child.once('exit', (code) => (early.exit = code));
    const key = JSON.stringify(config);
    started.set(key, [...(started.get(key) ?? []), early]);
  }
  globalThis[PRESTARTED] = started;
}
