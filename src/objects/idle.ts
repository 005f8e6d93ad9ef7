/**
 * Scale to zero. An object with an idle timeout has its published ports held by the daemon (a
 * front: an HTTP proxy on the host port), while its container publishes them on ports the
 * backend picks. The front counts requests in flight and open WebSocket streams; once none has
 * been open for the timeout, the object's containers stop (state `idle`). The next request is
 * held while the object starts again (`waking`), then served; every request that arrives
 * meanwhile is held too. A wake that fails answers 503 with the reason and a Retry-After, and
 * the object shows `failed` until a later request wakes it.
 *
 * Stopping for idleness is not a failure: the keeper (restart policies, health) leaves an
 * object alone from the moment it is put to sleep until it is awake again, and a wake is not
 * counted as a restart. The partial daemon keeps its state file across the stop, so a woken
 * object runs with the replicas and uses_with of its last scale or rolling update.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { endpointOf, type ObjectState } from '../backend/types.ts';
import { DaemonError, fail } from '../errors.ts';
import type { Metrics } from '../metrics/index.ts';
import { type ObjectDeps, short, start, startInside, withOutput } from './lifecycle.ts';
import { keepSpares, putAway, savedStart, startInSpare } from './spares.ts';
import { PARTIAL_PORT } from './partial.ts';
import type { Idler, Phase } from './kind.ts';
import type { ObjectRow, StartSpec } from './schema.ts';


/** What the idler counts (`jinad_object_wake*`). */
export function idleMetrics(m: Metrics) {
  return {
    wakes: m.counter('jinad_object_wakes_total', 'Idle objects started again by a request, by kind and outcome (ok, failed)', ['kind', 'outcome']),
    wakeSeconds: m.histogram('jinad_object_wake_duration_seconds', 'Time from the first request to an idle object until it is running again', ['kind']),
    sleeps: m.counter('jinad_object_idle_stops_total', 'Objects stopped after their idle timeout, by kind', ['kind']),
  };
}

interface Sleeper {
  id: string;
  timeoutMs: number;
  phase: Phase;
  /** Container port → the daemon's listener holding its host port. */
  fronts: Map<number, http.Server>;
  /** Requests in flight and open streams (WebSockets). */
  busy: number;
  timer?: NodeJS.Timeout;
  /** The stop or wake under way, which requests wait for. */
  transition?: Promise<void>;
  failure?: { detail: string; lines: string[] };
  agent: http.Agent;
}


const json = (status: number, body: unknown, extra: Record<string, string> = {}) => ({ status, headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });
/** The `Retry-After` of a 503 for a wake that failed (seconds). */
const RETRY_AFTER_S = '5';

function listen(host: string, port: number, server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Start a sleeping object again where it can be: in a warm spare when one is ready (its stopped
 * container, if any, replaced), else its stopped container, else (removed while it slept, or put
 * away) a new one running what it ran.
 */
async function startAgain(d: ObjectDeps, r: ObjectRow, startSpec: StartSpec): Promise<{ state: ObjectState; object: Record<string, unknown> }> {
  // What it ran when it stopped: kept in the store once its container was removed (spares on), else in its container.
  const saved = startSpec.resume ?? (await savedStart(d, r));
  const spared = saved && (await startInSpare(d, r.id, r.workspaceId, startSpec, r.metadata.image_id, saved));
  if (spared) {
    d.live.set(spared.state);
    return spared;
  }
  const stopped = await d.backend.startObject(r.id);
  if (stopped) {
    d.live.set(stopped);
    const object = await startInside(d, r.id, endpointOf(stopped, PARTIAL_PORT) ?? '', startSpec.partialBody).catch(async (err) => {
      throw await withOutput(d, r.id, err);
    });
    keepSpares(d, r);
    return { state: stopped, object };
  }
  const ws = d.workspaces.requireActive(r.workspaceId);
  const made = await start(d, r.id, r.workspaceId, { ...startSpec, partialBody: saved ?? startSpec.partialBody }, ws.image);
  d.live.set(made.state);
  return made;
}

/** Keep what a wake changed: its container and address, a start record with nothing to resume, one wake more. */
async function recordWake(d: ObjectDeps, r: ObjectRow, startSpec: StartSpec, state: ObjectState, object: Record<string, unknown>): Promise<void> {
  const now = d.repo.get(r.id) ?? r;
  const idle = now.metadata.idle;
  const { resume: _, ...awake } = now.start ?? startSpec; // it runs: nothing to resume
  await d.repo.patch(r.id, {
    start: awake,
    metadata: { ...now.metadata, container_id: short(state.ref), uri: endpointOf(state, PARTIAL_PORT) ?? now.metadata.uri, started_at: state.startedAt, ...(idle && { idle: { ...idle, wakes: idle.wakes + 1, last_wake: new Date().toISOString() } }) },
    arguments: { ...now.arguments, object },
  });
}

export function createIdler(d: ObjectDeps, publishHost: string, measure: ReturnType<typeof idleMetrics>): Idler {
  const sleepers = new Map<string, Sleeper>();
  const { kind } = d.spec;

  const arm = (s: Sleeper) => {
    clearTimeout(s.timer);
    if (s.busy > 0 || s.phase !== 'running') return;
    s.timer = setTimeout(() => void sleep(s), s.timeoutMs);
    s.timer.unref();
  };

  /** Stop the object: nothing was in flight for its timeout. */
  async function sleep(s: Sleeper): Promise<void> {
    if (s.busy > 0 || s.phase !== 'running' || !sleepers.has(s.id) || d.removing.has(s.id) || d.restarting.has(s.id)) return;
    s.phase = 'stopping';
    s.transition = (async () => {
      try {
        await d.backend.stopObject(s.id);
        // Asleep either way: a wake starts the stopped container when it could not be put away.
        await putAway(d, s.id).catch((err) => d.log.warn(`${kind} ${s.id}: its stopped container could not be put away`, err));
        measure.sleeps.inc({ kind });
        d.log.info(`${kind} ${s.id} is idle (no request for ${s.timeoutMs / 1000} s): its containers stopped`);
        s.phase = 'idle';
      } catch (err) {
        d.log.warn(`${kind} ${s.id} could not be stopped for idleness`, err);
        s.phase = 'running';
        arm(s);
      }
    })();
    await s.transition;
  }

  /** Start the object again and wait until it serves. */
  async function wake(s: Sleeper): Promise<void> {
    const r = d.repo.get(s.id);
    if (!r?.start) throw fail('object_unreachable', `${s.id} cannot be woken: it has no start record`);
    s.phase = 'waking';
    const t0 = performance.now();
    d.log.info(`${kind} ${s.id} is waking for a request`);
    try {
      await d.starts.run(async () => {
        const { state, object } = await startAgain(d, r, r.start!);
        await recordWake(d, r, r.start!, state, object);
      });
      s.phase = 'running';
      s.failure = undefined;
      measure.wakes.inc({ kind, outcome: 'ok' });
      measure.wakeSeconds.observe({ kind }, (performance.now() - t0) / 1000);
      d.log.info(`${kind} ${s.id} woke in ${Math.round(performance.now() - t0)} ms`);
    } catch (err) {
      throw await failedWake(s, err);
    }
  }

  /** A wake that failed: the object shows failed, is left stopped, and the error says why. */
  async function failedWake(s: Sleeper, err: unknown): Promise<DaemonError> {
    const e = err instanceof DaemonError ? err : fail('object_start_failed', (err as Error).message);
    const lines = Array.isArray(e.body) ? (e.body as string[]) : [];
    s.failure = { detail: `${s.id} could not wake: ${e.message}`, lines };
    s.phase = 'failed';
    measure.wakes.inc({ kind, outcome: 'failed' });
    d.log.warn(`${kind} ${s.id} could not wake: ${e.message}`);
    // Left stopped (a crash loop under its restart policy helps nobody): the next request tries again.
    await d.backend.stopObject(s.id).catch(() => undefined);
    const now = d.repo.get(s.id);
    if (now) await d.repo.patch(s.id, { metadata: { ...now.metadata, last_exit: { time: new Date().toISOString(), exit_code: null, oom_killed: false, reason: `could not wake: ${e.message}` } } });
    return fail('object_start_failed', s.failure.detail, lines, err);
  }

  /** Resolve once the object serves: waits for a stop under way, wakes an idle (or failed) one, joins a wake under way. */
  async function awake(s: Sleeper): Promise<void> {
    for (;;) {
      if (s.phase === 'running') return;
      if (s.phase === 'stopping' || s.phase === 'waking') {
        await s.transition!.catch(() => undefined);
        // The phase changed meanwhile (the await).
        if ((s.phase as Phase) === 'failed' && s.failure) throw fail('object_start_failed', s.failure.detail, s.failure.lines);
        continue;
      }
      s.transition = wake(s);
      await s.transition;
      return;
    }
  }

  /** Count a request or a stream from now until `done` is called (once). */
  const enter = (s: Sleeper) => {
    s.busy++;
    clearTimeout(s.timer);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      s.busy--;
      arm(s);
    };
  };

  /** Where the object's container port answers now (its published port changes when it starts again). */
  const targetOf = (s: Sleeper, port: number) => {
    const state = d.live.get(s.id);
    const published = state?.running ? state.ports[`${port}/tcp`] : undefined;
    return published ? { host: state!.host, port: published } : undefined;
  };

  const refusal = (err: unknown) => {
    const e = err as DaemonError;
    return json(503, { detail: e.message, body: Array.isArray(e.body) ? e.body : [] }, { 'retry-after': RETRY_AFTER_S });
  };

  function serveFront(s: Sleeper, port: number): http.Server {
    const server = http.createServer((req, res) => {
      const leave = enter(s);
      res.on('close', leave);
      void (async () => {
        try {
          await awake(s);
        } catch (err) {
          const r = refusal(err);
          res.writeHead(r.status, r.headers).end(r.body);
          return;
        }
        const target = targetOf(s, port);
        if (!target) {
          const r = json(503, { detail: `${s.id} is not running (${d.live.get(s.id)?.status ?? 'missing'})`, body: [] }, { 'retry-after': RETRY_AFTER_S });
          res.writeHead(r.status, r.headers).end(r.body);
          return;
        }
        const up = http.request({ ...target, agent: s.agent, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        up.on('error', (err) => {
          if (res.headersSent) return void res.destroy();
          const r = json(502, { detail: `${s.id} did not answer: ${err.message}`, body: [] });
          res.writeHead(r.status, r.headers).end(r.body);
        });
        res.on('close', () => up.destroy());
        req.pipe(up);
      })();
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const leave = enter(s);
      socket.on('close', leave);
      socket.on('error', () => socket.destroy());
      void (async () => {
        try {
          await awake(s);
        } catch (err) {
          const r = refusal(err);
          socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: ${RETRY_AFTER_S}\r\nconnection: close\r\n\r\n${r.body}`);
          return;
        }
        const target = targetOf(s, port);
        if (!target) return void socket.destroy();
        const up = net.connect(target.port, target.host, () => {
          const lines = [`${req.method} ${req.url} HTTP/1.1`];
          for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
          up.write(`${lines.join('\r\n')}\r\n\r\n`);
          if (head.length) up.write(head);
          socket.pipe(up).pipe(socket);
        });
        up.on('error', () => socket.destroy());
        up.on('close', () => socket.destroy());
        socket.on('close', () => up.destroy());
      })();
    });
    // Keep-alive connections that carry nothing are not activity; they must not keep the daemon from closing either.
    server.keepAliveTimeout = 5000;
    return server;
  }

  async function hold(id: string, timeoutSeconds: number, ports: { container: number; host?: number }[], phase: Phase, transition?: Promise<void>): Promise<Record<string, number>> {
    const s: Sleeper = { id, timeoutMs: timeoutSeconds * 1000, phase, fronts: new Map(), busy: 0, agent: new http.Agent({ keepAlive: true }), transition };
    const hostPorts: Record<string, number> = {};
    try {
      for (const p of ports) {
        const server = serveFront(s, p.container);
        s.fronts.set(p.container, server);
        hostPorts[`${p.container}/tcp`] = await listen(publishHost, p.host ?? 0, server).catch((err: NodeJS.ErrnoException) => {
          throw err.code === 'EADDRINUSE' ? fail('object_start_failed', `the ${kind} could not start (port conflict: ${publishHost}:${p.host} is taken)`) : err;
        });
      }
    } catch (err) {
      await closeFronts(s);
      throw err;
    }
    sleepers.set(id, s);
    arm(s);
    return hostPorts;
  }

  async function closeFronts(s: Sleeper): Promise<void> {
    clearTimeout(s.timer);
    s.agent.destroy();
    await Promise.all(
      [...s.fronts.values()].map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  }

  return {
    async front(id, timeoutSeconds, ports) {
      let settled!: () => void;
      const creation = new Promise<void>((resolve) => (settled = resolve));
      const hostPorts = await hold(id, timeoutSeconds, ports, 'waking', creation);
      return {
        ports: hostPorts,
        settle: async (ok) => {
          const s = sleepers.get(id);
          if (s && ok) {
            s.phase = 'running';
            arm(s);
          } else if (s) {
            s.phase = 'failed';
            s.failure = { detail: `${id} did not start`, lines: [] };
            sleepers.delete(id);
            await closeFronts(s);
          }
          settled();
        },
      };
    },
    async resume(r) {
      const idle = r.metadata.idle;
      if (!idle || !r.start || sleepers.has(r.id)) return;
      const ports = Object.entries(idle.ports).map(([key, host]) => ({ container: Number.parseInt(key, 10), host }));
      const running = d.live.get(r.id)?.running ?? false;
      keepSpares(d, r);
      try {
        await hold(r.id, idle.timeout, ports, running ? 'running' : 'idle');
      } catch (err) {
        d.log.warn(`${kind} ${r.id}: its ports could not be held again; it will not wake`, err);
      }
    },
    phase: (id) => sleepers.get(id)?.phase,
    asleep(id) {
      const p = sleepers.get(id)?.phase;
      return p !== undefined && p !== 'running';
    },
    async whileAwake(id, fn) {
      const s = sleepers.get(id);
      if (!s) return fn();
      const leave = enter(s);
      try {
        await awake(s);
        return await fn();
      } finally {
        leave();
      }
    },
    async release(id) {
      const s = sleepers.get(id);
      if (!s) return;
      sleepers.delete(id);
      await closeFronts(s);
    },
    async close() {
      const all = [...sleepers.values()];
      sleepers.clear();
      await Promise.all(all.map(closeFronts));
    },
  };
}
