// A restarted or woken object's Peas, started at once as its container starts, while the partial
// daemon loads the runtime: two processes starting side by side instead of one after the other
// (measured in bench/serverless.ts). The state file lists how each Pea was started last time;
// the runtime adopts a Pea started here when it would start the very same one (pea.ts), and
// stops the others once the object runs. Without a state file (a new object, or a warm spare
// that has none yet) one blank Pea starts: the runtime loaded, it becomes whichever Pea the object
// starts first. Plain JavaScript, loaded before the bundled runtime.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const PRESTARTED = Symbol.for('jinad.prestarted');
/** The key of blank Peas in the prestarted map (pea.ts: its twin there). */
const BLANK = 'blank';

/** `argv`: the partial daemon's (`partial --mode … --state <file>`); `worker`: the bundled pea-worker. */
export function prestart(argv, worker) {
  const at = argv.indexOf('--state');
  if (at < 0) return;
  let peas;
  try {
    peas = JSON.parse(readFileSync(argv[at + 1], 'utf8')).peas;
  } catch {
    peas = undefined; // never started here
  }
  const { JINAD_PARTIAL_START: _, ...env } = process.env;
  const started = new Map();
  const early = (key, cwd, childEnv) => {
    const child = fork(worker, [], { execArgv: [], cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    // Its output waits in its pipes; its messages (ready, error) and its exit are kept for whoever adopts it.
    const e = { child, messages: [], exit: undefined };
    e.keep = (m) => e.messages.push(m);
    child.on('message', e.keep);
    child.once('exit', (code) => (e.exit = code));
    started.set(key, [...(started.get(key) ?? []), e]);
  };
  if (Array.isArray(peas)) {
    for (const { config, env: own, cwd } of peas) early(JSON.stringify(config), cwd, { ...env, ...own, JINAD_PEA: JSON.stringify(config) });
  } else {
    const ws = argv.indexOf('--workspace');
    early(BLANK, ws < 0 ? process.cwd() : argv[ws + 1], { ...env, JINAD_PEA_BLANK: '1' });
  }
  globalThis[PRESTARTED] = started;
}
