/**
 * A Pea as its parent sees it: a child process running one executor (pea-worker.ts), reached
 * over HTTP/1.1 keep-alive. Starting waits until the executor is loaded and listening; a
 * failure carries the executor's error and the process's last output lines.
 */
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ExecutorSpec } from './config.ts';
import type { Become, PeaConfig } from './pea-worker.ts';
import { type DataRequest, decodeFrame, endWith, FRAME_TYPE, requestBody } from './protocol.ts';

/** In a container the runtime runs bundled (dist/*.mjs, see base-image.ts); elsewhere from its TypeScript. */
const BUNDLED = import.meta.url.endsWith('.mjs');
const WORKER = fileURLToPath(new URL(BUNDLED ? './pea-worker.mjs' : './pea-worker.ts', import.meta.url));
/** Executors are TypeScript, and import `jinad`: the Pea loads them with the runtime's loader hooks. */
const BOOTSTRAP = new URL(BUNDLED ? '../bootstrap-container.mjs' : './bootstrap.mjs', import.meta.url).href;
const TAIL = 30;

/**
 * POST a data request to a Pea or a Pod's head (`host:port`), over a keep-alive agent: as a frame
 * (tensors as bytes) to the runtime's own processes, as JSON where `framed` is false (a remote
 * Executor, whose daemon may run another version of the runtime).
 */
export function sendRequest(agent: http.Agent, host: string, port: number, label: string, req: DataRequest, framed = true): Promise<DataRequest> {
  const { parts, headers } = requestBody(req, framed);
  return new Promise<DataRequest>((resolve, reject) => {
    const r = http.request({ agent, host, port, method: 'POST', path: '/', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        try {
          if (res.statusCode !== 200) reject(new Error(`${label}: ${body.toString('utf8')}`));
          else resolve(res.headers['content-type'] === FRAME_TYPE ? decodeFrame(body) : (JSON.parse(body.toString('utf8')) as DataRequest));
        } catch (err) {
          reject(new Error(`${label}: an answer that cannot be read: ${(err as Error).message}`));
        }
      });
      res.on('error', reject);
    });
    r.on('error', (err) => reject(new Error(`${label} is unreachable: ${err.message}`)));
    endWith(r, parts);
  });
}

/** How a Pea's process was started: kept in the partial daemon's state file, so a restart can start it early (prestart.mjs). */
export interface PeaLaunch {
  config: PeaConfig;
  env: Record<string, string>;
  cwd: string;
}

/** A Pea process prestart.mjs started as the container started, with what it said and did meanwhile. */
interface Early {
  child: ChildProcess;
  messages: unknown[];
  exit: number | null | undefined;
  keep: (m: unknown) => void;
}
const PRESTARTED = Symbol.for('jinad.prestarted');
const BLANK = 'blank'; // prestart.mjs's key of blank Peas (its twin there)
const prestarted = () => (globalThis as Record<symbol, Map<string, Early[]> | undefined>)[PRESTARTED];

/** Tell a blank Pea what to become, once it listens (it says `blank`; a message sent before is lost). */
function tell(blank: Early, become: Become): void {
  const listens = (m: unknown) => (m as { type?: string } | undefined)?.type === 'blank';
  if (blank.messages.some(listens)) return void blank.child.send(become);
  const onMessage = (m: unknown) => {
    if (!listens(m)) return;
    blank.child.off('message', onMessage);
    blank.child.send(become);
  };
  blank.child.on('message', onMessage);
}

/**
 * The Pea prestart.mjs started with exactly this launch, else a blank one (still alive) told to
 * become it, if any (taken: adopted once).
 */
function adopt(launch: PeaLaunch): Early | undefined {
  const all = prestarted();
  let early = all?.get(JSON.stringify(launch.config))?.shift();
  if (!early && BUNDLED) {
    const blanks = all?.get(BLANK) ?? [];
    while (blanks.length && !early) {
      const b = blanks.shift()!;
      if (b.exit === undefined && b.child.connected) early = b;
      else b.child.kill('SIGKILL');
    }
    if (early) tell(early, { type: 'become', config: launch.config, env: { ...(process.env as Record<string, string>), ...launch.env, JINAD_PEA: JSON.stringify(launch.config) } });
  }
  if (early) adoptedCount++;
  return early;
}

/** Stop the Peas started early that the object did not adopt (it changed since they were listed); how many were adopted, and stopped. */
export function releasePrestarted(): { adopted: number; stopped: number } {
  const all = prestarted();
  if (!all) return { adopted: 0, stopped: 0 };
  const left = [...all.values()].flat();
  for (const early of left) early.child.kill('SIGTERM');
  all.clear();
  return { adopted: adoptedCount, stopped: left.length };
}
let adoptedCount = 0;

export class StartError extends Error {
  constructor(message: string, readonly lines: string[]) {
    super(message);
  }
}

export interface PeaOptions {
  spec: ExecutorSpec;
  replicaId?: number;
  replicas?: number;
  workspace: string;
  /** Address the Pea listens on: loopback inside one machine or container, 0.0.0.0 to be reached from outside. */
  host?: string;
  port?: number;
  /** Every line the executor prints, as it happens. */
  onLog?: (line: string) => void;
  /** How long it may take to load (default 60 s); null: forever (`timeout_ready: -1`). */
  startTimeoutMs?: number | null;
  /** Which shard of its executor it is, of how many. */
  shardId?: number;
  shards?: number;
}

export class Pea {
  readonly replicaId: number;
  /** Requests sent and not yet answered: drained before the Pea stops. */
  inflight = 0;
  private agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private exited = false;

  private constructor(
    private child: ChildProcess,
    readonly host: string,
    readonly port: number,
    readonly spec: ExecutorSpec,
    replicaId: number,
    readonly launch: PeaLaunch,
  ) {
    this.replicaId = replicaId;
    child.once('exit', () => (this.exited = true));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get alive(): boolean {
    return !this.exited;
  }
  onExit(fn: (code: number | null) => void): void {
    this.child.once('exit', fn);
  }

  static start(opts: PeaOptions): Promise<Pea> {
    const replicaId = opts.replicaId ?? 0;
    const host = opts.host ?? '127.0.0.1';
    const config: PeaConfig = { spec: opts.spec, replicaId, replicas: opts.replicas ?? 1, shardId: opts.shardId ?? 0, shards: opts.shards ?? 1, workspace: opts.workspace, host, port: opts.port ?? 0, loader: BUNDLED ? BOOTSTRAP : undefined };
    const launch: PeaLaunch = { config, env: opts.spec.env, cwd: opts.workspace };
    const early = adopt(launch);
    const child =
      early?.child ??
      fork(WORKER, [], {
        execArgv: BUNDLED ? [] : ['--import', BOOTSTRAP],
        cwd: launch.cwd,
        env: { ...process.env, ...launch.env, JINAD_PEA: JSON.stringify(config) },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
    const tail: string[] = [];
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > TAIL) tail.shift();
      opts.onLog?.(line);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
        }
      });
    }
    const label = `${opts.spec.name}${config.shards > 1 ? `/shard-${config.shardId}` : ''}${config.replicas > 1 ? `/${replicaId}` : ''}`;
    const limit = opts.startTimeoutMs === undefined ? 60_000 : opts.startTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer =
        limit === null
          ? undefined
          : setTimeout(() => {
              child.kill('SIGKILL');
              reject(new StartError(`${label} did not start within ${limit / 1000} s (timeout_ready)`, tail));
            }, limit);
      const onMessage = (m: { type: string; port?: number; message?: string }) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(new Pea(child, host === '0.0.0.0' ? '127.0.0.1' : host, m.port!, opts.spec, replicaId, launch));
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new StartError(m.message ?? `${label} failed to start`, tail));
        }
      };
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new StartError(`${label} exited with code ${code} while starting`, tail));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (early) {
        // Started early: what it said before it was adopted, then what it says from now on.
        child.off('message', early.keep);
        for (const m of early.messages) onMessage(m as Parameters<typeof onMessage>[0]);
        if (early.exit !== undefined) onExit(early.exit);
      }
    });
  }

  /** Send a data request; resolves with the executor's answer. */
  send(req: DataRequest): Promise<DataRequest> {
    this.inflight++;
    return sendRequest(this.agent, this.host, this.port, `${this.spec.name}/${this.replicaId}`, req).finally(() => this.inflight--);
  }

  /** Resolves once no request is in flight. */
  async drain(): Promise<void> {
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 5));
  }

  /** Drain, then stop the process (its executor's close() runs); killed if it takes too long. */
  async close(timeoutMs = 10_000): Promise<void> {
    await this.drain();
    this.agent.destroy();
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(timer);
  }
}
