/**
 * The fake backend: everything in memory, nothing needs a Docker Engine. Images are names,
 * networks are names, and an object is a program (programs.ts) whose ports are real HTTP
 * servers on loopback, so the daemon's own code (readiness waits, partial-daemon calls, log
 * routing to the forward receiver, reconcile) runs unchanged against it. It behaves as the
 * Docker backend does where the daemon relies on it: a name is taken once, an image must exist
 * before an object runs from it, a fixed host port is taken once, a network with objects
 * attached cannot be removed, removal is idempotent. Used by the fast test suite.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { encode } from '@msgpack/msgpack';
import { readInside } from '../../runtime/safe-files.ts';
import type { Backend, LogRoute, ObjectEvent, ObjectSpec, ObjectState, OutputLine, Owned } from '../types.ts';
import { BuildError } from '../types.ts';
import { type FakeProgram, partialDaemonProgram } from './programs.ts';

export const FAKE_BASE_IMAGE = 'jinad-runtime:fake';
export const FAKE_PYTHON_IMAGE = 'jinad-runtime-python:fake';
/** A Dockerfile line the fake build obeys: `# fake-backend: fail <message>`. */
const FAIL_LINE = /^#\s*fake-backend:\s*fail\s+(.*)$/m;

interface FakeObject {
  spec: ObjectSpec;
  state: ObjectState;
  servers: ServerType[];
  lines: OutputLine[];
  /** Set when its program exits at once. */
  exitCode?: number;
  /** What the object wrote to its own filesystem: kept across its restarts, gone with it. */
  disk: Map<string, unknown>;
  /** Restarts by its policy in a row (on-failure's max). */
  retries: number;
  /** Its ports accept connections but nothing answers (a hung process), until it restarts. */
  hung?: boolean;
}

export interface FakeBackend extends Backend {
  /** Objects as the fake holds them (for assertions). */
  readonly objects: ReadonlyMap<string, FakeObject>;
  readonly images: ReadonlyMap<string, string>;
  readonly networks: ReadonlyMap<string, string>;
  /** Make an object stop as a crash would (exit code; `oom`: killed over its memory limit), keeping it listed; its restart policy applies. */
  crash(id: string, exitCode?: number, opts?: { oom?: boolean }): Promise<void>;
  /** Stop an object as `docker kill` does: exit code 137, and the engine's restart policy does not apply. */
  kill(id: string): Promise<void>;
  /** Make an object hang: it keeps running, its ports accept connections and answer nothing, until it restarts. */
  hang(id: string): void;
  /** Make the backend unreachable (every call rejects as an engine that is down). */
  setReachable(reachable: boolean): void;
  /** An engine restart: every object stops, event streams end, the backend is down for `downMs`, then back. */
  restartEngine(downMs?: number): Promise<void>;
}

const listen = (fetch: (req: Request) => Promise<Response> | Response, port: number): Promise<ServerType> =>
  new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port }, () => resolve(server));
    server.once('error', reject);
  });
const close = (s: ServerType) =>
  new Promise<void>((resolve) => {
    (s as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    s.close(() => resolve());
  });

export function createFakeBackend(opts: { program?: FakeProgram } = {}): FakeBackend {
  const program = opts.program ?? partialDaemonProgram;
  const images = new Map<string, string>([
    [FAKE_BASE_IMAGE, `sha256:${'0'.repeat(64)}`],
    [FAKE_PYTHON_IMAGE, `sha256:${'1'.repeat(64)}`],
  ]);
  const networks = new Map<string, string>();
  const objects = new Map<string, FakeObject>();
  const watchers = new Map<(e: ObjectEvent) => void, (() => void) | undefined>();
  let route: LogRoute | undefined;
  let reachable = true;
  /** After close(), until start(): a restart timer that fires late starts nothing (it would keep the process alive). */
  let closed = false;
  let sink: net.Socket | undefined;

  const down = () => {
    if (!reachable) throw Object.assign(new Error('connect ECONNREFUSED (fake backend is down)'), { code: 'ECONNREFUSED' });
  };
  const emit = (action: string, o: FakeObject, exitCode?: number) => {
    for (const w of watchers.keys()) w({ action, id: o.spec.id, kind: o.spec.kind, workspaceId: o.spec.workspaceId, exitCode });
  };
  /** Keep a line, and send it to the log route as Docker's fluentd driver would. */
  const write = (o: FakeObject, message: string, stream: 'stdout' | 'stderr' = 'stdout') => {
    const now = Date.now();
    o.lines.push({ time: new Date(now).toISOString(), stream, message });
    if (!route) return;
    if (!sink || sink.destroyed) {
      const [host, port] = route.address.replace(/^tcp:\/\//, '').split(':');
      sink = route.address.startsWith('unix://') ? net.connect(route.address.slice('unix://'.length)) : net.connect(Number(port), host);
      sink.on('error', () => sink?.destroy()); // async driver: a receiver that is down loses the line
    }
    sink.write(encode([`jinad.${o.spec.workspaceId}.${o.spec.id}`, now / 1000, { log: message, source: stream, container_id: o.spec.id }, {}]));
  };
  /** Run the object's program: a loopback server per port (fixed ones on their number), as Docker publishes them. */
  const launch = async (o: FakeObject) => {
    const run = program(o.spec, (line) => write(o, line), o.disk);
    o.exitCode = run.exitCode;
    o.hung = false;
    o.state.ports = {};
    try {
      for (const p of o.spec.ports) {
        const silent = () => new Promise<Response>(() => {}); // listens, never answers
        const handler = run.handlers.get(p.container) ?? silent;
        const server = await listen((req) => (o.hung ? silent() : handler(req)), p.host ?? 0);
        o.servers.push(server);
        o.state.ports[`${p.container}/tcp`] = (server.address() as AddressInfo).port;
      }
    } catch (err) {
      await Promise.all(o.servers.map(close));
      o.servers = [];
      const taken = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      throw new Error(taken ? `driver failed programming external connectivity: Bind for 127.0.0.1:${(err as { port?: number }).port} failed: port is already allocated` : (err as Error).message);
    }
  };
  /** Whether the engine starts it again by its policy, as Docker decides when a container exits. */
  const restarts = (o: FakeObject, exitCode: number) => {
    const p = o.spec.restart;
    return !!p && p.name !== 'no' && !(p.name === 'on-failure' && (exitCode === 0 || (p.max !== undefined && o.retries >= p.max)));
  };
  /** Stop it; `byPolicy`: it exited by itself, and its restart policy may start it again (status `restarting` meanwhile). */
  const stop = async (o: FakeObject, exitCode: number, oomKilled = false, byPolicy = false) => {
    await Promise.all(o.servers.map(close));
    o.servers = [];
    o.state = { ...o.state, status: byPolicy && restarts(o, exitCode) ? 'restarting' : 'exited', running: false, exitCode, oomKilled };
    if (oomKilled) emit('oom', o);
    emit('die', o, exitCode);
  };
  const relaunch = async (o: FakeObject) => {
    await launch(o);
    o.state = { ...o.state, status: 'running', running: true, exitCode: 0, oomKilled: false, startedAt: new Date().toISOString() };
    emit('start', o);
    if (o.exitCode !== undefined) await stop(o, o.exitCode, false, true);
  };
  /** The engine's restart policy, as Docker applies it: a growing delay between tries, at most `max` in a row for on-failure. */
  const policyRestart = (o: FakeObject, exitCode: number) => {
    if (!restarts(o, exitCode)) return;
    const delay = 50 * 2 ** Math.min(o.retries++, 6);
    setTimeout(() => {
      if (objects.get(o.spec.id) !== o || o.state.running || !reachable || closed) return;
      relaunch(o).then(
        () => o.exitCode === undefined || policyRestart(o, o.exitCode),
        () => {},
      );
    }, delay).unref();
  };

  return {
    kind: 'fake',
    objects,
    images,
    networks,

    async start() {
      closed = false; // a daemon started again on the same fake (a restart test)
    },
    async ping() {
      if (!reachable) throw new Error('cannot reach the fake backend (setReachable(false))');
    },
    async info() {
      down();
      return { kind: 'fake', version: '0.0.0-fake', apiVersion: '0', os: process.platform, arch: process.arch, kernel: '' };
    },
    async close() {
      closed = true;
      for (const o of objects.values()) await Promise.all(o.servers.map(close));
      sink?.destroy();
    },

    async ensureBaseImage(onLine) {
      down();
      onLine?.(`using ${FAKE_BASE_IMAGE}`);
      return FAKE_BASE_IMAGE;
    },
    async ensurePythonImage() {
      down();
      return FAKE_PYTHON_IMAGE;
    },
    pruneBaseImages: async () => 0,

    async buildImage(spec) {
      down();
      const text = 'text' in spec.dockerfile ? spec.dockerfile.text : readInside(spec.dir, spec.dockerfile.path, { what: 'Dockerfile' });
      const from = /^FROM\s+(\S+)/m.exec(text)?.[1] ?? '';
      const from2 = from.replace(/\$\{?(\w+)\}?/g, (_, k: string) => spec.buildArgs?.[k] ?? '');
      const steps = text.split('\n').filter((l) => /^[A-Z]+\s/.test(l));
      const h = createHash('sha256').update(text);
      const walk = (rel: string) => {
        for (const e of readdirSync(path.join(spec.dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (spec.exclude?.(r)) continue;
          if (e.isDirectory()) walk(r);
          else if (e.isFile()) h.update(r).update(readFileSync(path.join(spec.dir, r)));
        }
      };
      if (existsSync(spec.dir)) walk('');
      for (const [i, step] of steps.entries()) {
        if (spec.signal?.aborted) throw spec.signal.reason ?? new Error('build aborted');
        spec.onLine?.(`Step ${i + 1}/${steps.length} : ${step}`);
      }
      if (!images.has(from2)) throw new BuildError(`pull access denied for ${from2}, repository does not exist`, [`pull access denied for ${from2}`]);
      const failure = FAIL_LINE.exec(text);
      if (failure) throw new BuildError(failure[1]!, [failure[1]!]);
      const id = `sha256:${h.digest('hex')}`;
      images.set(spec.tag, id);
      spec.onLine?.(`Successfully tagged ${spec.tag}`);
      return { imageId: id };
    },
    async imageId(ref) {
      down();
      return images.get(ref) ?? [...images.values()].find((id) => id === ref || id.replace('sha256:', '').startsWith(ref));
    },
    async removeImage(ref) {
      down();
      if ([...objects.values()].some((o) => o.spec.image === ref)) return; // in use: stays, as Docker's 409
      images.delete(ref);
    },

    pruneImages: async () => 0, // images are tags here: nothing is left untagged
    async prepareWorkdir() {
      down();
    },
    async isolate(workspaceId) {
      down();
      let id = networks.get(workspaceId);
      if (!id) networks.set(workspaceId, (id = randomUUID().replaceAll('-', '')));
      return id;
    },
    async removeIsolation(workspaceId) {
      down();
      if ([...objects.values()].some((o) => o.spec.workspaceId === workspaceId && o.state.running)) {
        throw new Error(`error while removing network: network ${workspaceId} has active endpoints`);
      }
      networks.delete(workspaceId);
    },

    async runObject(spec) {
      down();
      if (objects.has(spec.id)) throw Object.assign(new Error(`Conflict. The container name "/${spec.id}" is already in use`), { statusCode: 409 });
      if (!images.has(spec.image)) throw Object.assign(new Error(`No such image: ${spec.image}`), { statusCode: 404 });
      if (!networks.has(spec.workspaceId)) throw Object.assign(new Error(`network ${spec.workspaceId} not found`), { statusCode: 404 });
      const o: FakeObject = {
        spec,
        servers: [],
        lines: [],
        disk: new Map(),
        retries: 0,
        state: { id: spec.id, ref: createHash('sha256').update(spec.id).digest('hex'), kind: spec.kind, workspaceId: spec.workspaceId, status: 'running', running: true, exitCode: 0, oomKilled: false, startedAt: new Date().toISOString(), ports: {}, host: '127.0.0.1' },
      };
      await launch(o);
      objects.set(spec.id, o);
      emit('start', o);
      if (o.exitCode !== undefined) {
        await stop(o, o.exitCode, false, true);
        policyRestart(o, o.exitCode);
      }
      return { ...o.state, ports: { ...o.state.ports } };
    },
    async startObject(id) {
      down();
      const o = objects.get(id);
      if (!o) return undefined;
      if (!o.state.running) await relaunch(o);
      return { ...o.state, ports: { ...o.state.ports } };
    },
    async stopObject(id) {
      down();
      const o = objects.get(id);
      if (o?.state.running) await stop(o, 0);
    },
    async restartObject(id) {
      down();
      const o = objects.get(id);
      if (!o) return undefined;
      if (o.state.running) await stop(o, 0);
      await relaunch(o);
      return { ...o.state, ports: { ...o.state.ports } };
    },
    async inspectObject(id) {
      down();
      const o = objects.get(id);
      return o && { ...o.state, ports: { ...o.state.ports } };
    },
    async removeObject(id) {
      down();
      const o = objects.get(id);
      if (!o) return;
      objects.delete(id);
      await Promise.all(o.servers.map(close));
      emit('destroy', o);
    },
    async objectOutput(id, tail) {
      down();
      return (objects.get(id)?.lines ?? []).slice(-tail).map((l) => l.message);
    },
    async objectLogLines(id, since) {
      down();
      return (objects.get(id)?.lines ?? []).filter((l) => !since || Date.parse(l.time) / 1000 > since);
    },

    async objectStates() {
      down();
      return [...objects.values()].map((o) => ({ ...o.state, ports: { ...o.state.ports } }));
    },
    async listOwned(filter = {}): Promise<Owned> {
      down();
      const ws = (w: string) => !filter.workspaceId || w === filter.workspaceId;
      return {
        objects: [...objects.values()].filter((o) => ws(o.spec.workspaceId)).map((o) => ({ ref: o.spec.id, id: o.spec.id, kind: o.spec.kind, workspaceId: o.spec.workspaceId })),
        isolations: [...networks.keys()].filter(ws).map((w) => ({ ref: networks.get(w)!, workspaceId: w })),
        images: filter.workspaceId || filter.images === false
          ? []
          : [...images.entries()].filter(([tag]) => tag !== FAKE_BASE_IMAGE).map(([tag, id]) => ({ ref: id, tags: [tag], kind: 'workspace' })),
      };
    },
    async watch(fn, onEnd) {
      down();
      watchers.set(fn, onEnd);
      return () => watchers.delete(fn);
    },
    routeLogs(r) {
      route = r;
    },

    async crash(id, exitCode = 137, crashOpts = {}) {
      const o = objects.get(id);
      if (!o?.state.running) return;
      await stop(o, exitCode, crashOpts.oom, true);
      policyRestart(o, exitCode);
    },
    async kill(id) {
      const o = objects.get(id);
      if (o?.state.running) await stop(o, 137);
    },
    hang(id) {
      const o = objects.get(id);
      if (o) o.hung = true;
    },
    setReachable(r) {
      reachable = r;
    },
    async restartEngine(downMs = 300) {
      reachable = false;
      for (const o of objects.values()) if (o.state.running) await stop(o, 0);
      const ended = [...watchers.values()];
      watchers.clear();
      for (const onEnd of ended) onEnd?.();
      await new Promise((r) => setTimeout(r, downMs));
      reachable = true;
      // As Docker does when it starts: `always` objects come back by themselves.
      for (const o of objects.values()) if (!o.state.running && o.spec.restart?.name === 'always') await relaunch(o).catch(() => {});
    },
  };
}
