/**
 * A Python Executor inside a Pea: the Pea's process (pea-worker.ts) runs one Python worker
 * (`python3 -m jina._worker`, the runtime's own `jina` package in ./python) and hands it each
 * request over a pipe, fd 3 to Python, fd 4 back: frames of a msgpack header and the raw bytes
 * of the documents' tensors after it (see python/jina/_wire.py). The Pea relays: the batches of
 * the frame its head sent go to Python as they came (their documents still msgpack bytes, the
 * tensors the same views of the HTTP body), and Python's answer goes back the same way, so Node
 * never makes the documents into objects. A worker that dies fails the requests it had with its
 * last lines (the traceback), and is started again; one whose constructor raises fails the start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { ExecutorSpec } from './config.ts';
import type { ExecutorMetas } from './executor.ts';
import { type DataRequest, ERROR, fromRawFrame, type RawFrame, type Status, toRawFrame } from './protocol.ts';
import { type Batch, joined, namedBlobs, sizeOf } from './frame.ts';
import { runtimeFile } from './version.ts';

/** Where the `jina` package is: beside the runtime's sources (or one folder up from dist/). */
export const PYTHON_PACKAGE_DIR = fileURLToPath(runtimeFile('python'));
const TAIL = 40;

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}
interface Reply {
  t: 'res' | 'ready' | 'error';
  /** Sizes of the tensor bytes after the header, and the bytes themselves once the frame is read. */
  blobs?: number[];
  /** Each blob as the pipe's chunks held it (views, not joined). */
  tensors?: Buffer[][];
  id?: number;
  docs?: Batch;
  results?: Record<string, unknown>;
  skipped?: boolean;
  error?: { name: string; message: string; traceback: string };
  message?: string;
  traceback?: string;
  name?: string;
}

/** A failure the Executor raised (or a crash), with Python's traceback. */
export class PythonError extends Error {
  constructor(message: string, readonly pyName: string, readonly traceback: string, readonly pyMessage = message) {
    super(message);
    this.name = pyName;
  }
}

const encoder = new Encoder({ ignoreUndefined: true });

/** The interpreter: JINAD_PYTHON, else `python3` on the PATH. */
const pythonBinary = () => process.env.JINAD_PYTHON || 'python3';
/**
 * glibc's malloc in the worker keeps what a frame freed for the next (up to 64 MiB): by default a
 * buffer of a few MB is mapped afresh, faulted in page by page and handed back at every request,
 * which cost more than the copy through the pipe itself (bench/python.ts).
 */
export const WORKER_MALLOC = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(64 << 20) };
const workerEnv = (extra: Record<string, string>) => ({
  ...process.env,
  PYTHONPATH: [PYTHON_PACKAGE_DIR, process.env.PYTHONPATH].filter(Boolean).join(':'),
  PYTHONUNBUFFERED: '1',
  PYTHONDONTWRITEBYTECODE: '1',
  ...WORKER_MALLOC,
  ...extra,
});
const workerCommand = () => [pythonBinary(), ['-m', 'jina._worker']] as const;
const STDIO = ['ignore', 'inherit', 'pipe', 'pipe', 'pipe'] as ('ignore' | 'inherit' | 'pipe')[];
/** A worker's pipes fail (EPIPE) when it dies; its exit says so, not an unhandled error. */
const quietPipes = (child: ChildProcess) => {
  for (const s of child.stdio) s?.on('error', () => {});
};

/** A worker started ahead by a blank Pea (see prestartPython), until a Python Executor takes it. */
let ahead: ChildProcess | undefined;

/**
 * For a blank Pea (a warm spare's): a Python worker with the interpreter, `jina` and numpy loaded
 * ahead, so a Python Executor that takes the Pea only loads its own modules. Where there is no
 * Python it fails quietly, and nothing is ahead.
 */
export function prestartPython(): void {
  const child = spawn(...workerCommand(), { cwd: '/', env: workerEnv({ JINAD_PY_BLANK: '1' }), stdio: STDIO });
  quietPipes(child);
  const gone = () => {
    if (ahead === child) ahead = undefined;
  };
  child.once('error', gone);
  child.once('exit', gone);
  ahead = child;
}

/** The blank Pea became a TypeScript one: its Python worker is not needed. */
export function releasePython(): void {
  ahead?.kill();
  ahead = undefined;
}

export class PythonExecutor {
  private child!: ChildProcess;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private tail: string[] = [];
  private closing = false;
  private ready!: Promise<void>;

  private constructor(
    private readonly spec: ExecutorSpec & { uses: { kind: 'class' } },
    private readonly metas: ExecutorMetas,
    private readonly label: string,
  ) {}

  /** Start the worker and wait until its Executor is constructed; a constructor that raises rejects with its traceback. */
  static async start(spec: ExecutorSpec, metas: ExecutorMetas, label: string): Promise<PythonExecutor> {
    if (spec.uses.kind !== 'class') throw new Error('a Python Executor needs a class');
    const py = new PythonExecutor(spec as ExecutorSpec & { uses: { kind: 'class' } }, metas, label);
    py.ready = py.spawn();
    await py.ready;
    return py;
  }

  private spawn(): Promise<void> {
    const { uses } = this.spec;
    const m = this.metas;
    const launch = {
      modules: uses.modules,
      class: uses.className,
      with: this.spec.usesWith,
      metas: { ...uses.metas, py_modules: undefined, name: m.name, workspace: m.workspace },
      runtime_args: { name: m.name, workspace: m.workspace, replicas: m.replicas, replica_id: m.replicaId, shards: m.shards ?? 1, shard_id: m.shardId ?? 0 },
      requests: this.spec.usesRequests,
    };
    // The worker started ahead when there is one (once: a restart starts its own).
    const early = ahead?.exitCode === null && ahead.pid ? ahead : undefined;
    ahead = undefined;
    const child = early ?? spawn(...workerCommand(), { cwd: m.workspace, env: workerEnv({ JINAD_PY: JSON.stringify(launch) }), stdio: STDIO });
    if (!early) quietPipes(child);
    this.child = child;
    this.tail = [];
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      process.stderr.write(chunk); // the object's log
      this.tail.push(...chunk.split('\n').filter(Boolean));
      if (this.tail.length > TAIL) this.tail.splice(0, this.tail.length - TAIL);
    });
    return new Promise<void>((resolve, reject) => {
      let started = false;
      this.readFrames(child, (reply) => {
        if (reply.t === 'ready') {
          started = true;
          resolve();
        } else if (reply.t === 'error') {
          reject(new PythonError(`${this.label}: ${reply.name}: ${reply.message}`, reply.name ?? 'Error', reply.traceback ?? ''));
        } else if (reply.id !== undefined) {
          const p = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          p?.resolve(reply);
        }
      });
      child.once('error', (err) => reject(new Error(`${this.label}: cannot run ${pythonBinary()}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found; this image or machine has no Python (add a requirements.txt or `python = 3` to .jinad)' : err.message}`)));
      child.once('exit', (code, signal) => {
        const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
        const lines = this.tail.join('\n');
        if (!started) reject(new PythonError(`${this.label}: the Python worker ${how} while starting${lines ? `:\n${lines}` : ''}`, 'WorkerExit', lines));
        const failed = new PythonError(`${this.label}: the Python worker ${how}${lines ? `:\n${lines}` : ''}`, 'WorkerExit', lines);
        for (const p of this.pending.values()) p.reject(failed);
        this.pending.clear();
        if (started && !this.closing) {
          console.error(`${this.label}: the Python worker ${how}; starting it again`);
          this.ready = this.spawn();
          this.ready.catch((err: Error) => console.error(`${this.label}: the Python worker did not start again: ${err.message}`));
        }
      });
      if (early) this.send({ t: 'launch', launch, env: process.env, cwd: m.workspace }, []);
    });
  }

  /** Frames from fd 4: the length of the rest, the header's length, the msgpack header, the tensors' bytes. */
  private readFrames(child: ChildProcess, onReply: (r: Reply) => void): void {
    const decoder = new Decoder();
    // Chunks are kept as they came and cut into the frame's parts: a large frame is never joined
    // into one buffer (a tensor's parts are views of the chunks that held it).
    const chunks: Buffer[] = [];
    let have = 0;
    const parts = (n: number): Buffer[] => {
      const out: Buffer[] = [];
      for (let got = 0; got < n; ) {
        const c = chunks[0]!;
        const k = Math.min(c.length, n - got);
        out.push(k === c.length ? c : c.subarray(0, k));
        got += k;
        if (k === c.length) chunks.shift();
        else chunks[0] = c.subarray(k);
      }
      have -= n;
      return out;
    };
    const take = (n: number): Buffer => joined(parts(n));
    const peekLength = (): number => (chunks[0]!.length >= 4 ? chunks[0]!.readUInt32LE(0) : Buffer.concat(chunks, 4).readUInt32LE(0));
    (child.stdio[4] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      while (have >= 4 && have >= 4 + peekLength()) {
        take(4);
        const header = take(take(4).readUInt32LE(0));
        const reply = decoder.decode(header) as Reply;
        reply.tensors = (reply.blobs ?? []).map((size) => parts(size));
        onReply(reply);
      }
    });
  }

  /** One frame: lengths, the msgpack header, the tensors' bytes (a blob may be many pieces). */
  private send(message: Record<string, unknown>, blobs: Uint8Array[][]): void {
    const sizes = blobs.map(sizeOf);
    const header = encoder.encode({ ...message, blobs: sizes });
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(4 + header.byteLength + sizes.reduce((n, b) => n + b, 0), 0);
    head.writeUInt32LE(header.byteLength, 4);
    const pipe = this.child.stdio[3] as NodeJS.WritableStream & { cork(): void; uncork(): void };
    pipe.cork(); // one write of many buffers
    const all = [head, header, ...blobs.flat().filter((b) => b.byteLength)];
    for (const b of all) pipe.write(b);
    pipe.uncork();
  }

  /**
   * Run a frame's request through the Executor: the answer is the frame with its documents (and
   * this Executor's results) set, a join's documents gone. The blobs no document of the answer
   * names any more (a column set again, the documents of a join) go on empty.
   */
  async relay({ request, blobs }: RawFrame): Promise<RawFrame> {
    await this.ready;
    const id = this.nextId++;
    const sent = request.data.docs;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const { execEndpoint: endpoint } = request.header;
      this.send({ t: 'req', id, endpoint, parameters: request.parameters ?? {}, docs: sent, docs_matrix: request.docsMatrix, groundtruths: request.data.groundtruths, base: blobs.length }, blobs);
    });
    if (reply.error) throw new PythonError(`${reply.error.name}: ${reply.error.message}`, reply.error.name, reply.error.traceback, reply.error.message);
    if (reply.skipped) return { request, blobs };
    const answer = reply.docs ?? {};
    const docs: Batch = answer.same ? { ...sent, cols: { ...sent?.cols, ...answer.cols } } : answer;
    const named = new Set<number>();
    namedBlobs(docs, named);
    namedBlobs(request.data.groundtruths, named);
    const { docsMatrix: _, ...rest } = request; // a join's documents do not go on, nor their blobs
    const out = { ...rest, data: { ...request.data, docs } };
    if (reply.results) {
      const all = (request.parameters.__results__ ?? {}) as Record<string, unknown>;
      out.parameters = { ...request.parameters, __results__: { ...all, [this.metas.name]: reply.results } };
    }
    return { request: out, blobs: [...blobs.map((b, i) => (named.has(i) ? b : [])), ...(reply.tensors ?? [])] };
  }

  /** Run a request (documents as objects: a JSON hop's) through the Executor: its documents and results set on `req`. */
  async process(req: DataRequest): Promise<void> {
    Object.assign(req, fromRawFrame(await this.relay(toRawFrame(req))));
  }

  /** Stop the worker: its `close()` runs (killed after `timeoutMs`). */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closing = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    (this.child.stdio[3] as NodeJS.WritableStream).end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(timer);
  }
}

/** The status of a request a Python Executor failed: Python's exception name, message and traceback. */
export function pythonStatus(err: PythonError, executor: string): Status {
  return {
    code: ERROR,
    description: `${executor}: ${err.message}`,
    exception: { name: err.pyName, args: [err.pyMessage], stacks: err.traceback.split('\n'), executor },
  };
}
