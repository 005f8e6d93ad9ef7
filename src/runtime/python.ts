/**
 * A Python Executor inside a Pea: the Pea's process (pea-worker.ts) runs one Python worker
 * (`python3 -m jina._worker`, the runtime's own `jina` package in ./python) and hands it each
 * request over a pipe: frames of a 4-byte little-endian length and one msgpack message, fd 3 to
 * Python, fd 4 back (see python/jina/_wire.py). Tensors cross as they are: base64 text from the
 * JSON hops goes through untouched, bytes Python made come back as bytes and become base64 here
 * (the next hop is JSON). A worker that dies fails the requests it had with its last lines (the
 * traceback), and is started again; one whose constructor raises fails the start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { ExecutorSpec } from './config.ts';
import type { DocumentData } from './document.ts';
import type { ExecutorMetas } from './executor.ts';
import { type DataRequest, ERROR, type Status } from './protocol.ts';
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
  id?: number;
  docs?: DocumentData[];
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

/** Bytes msgpack gave back (buffers, tensors) as the base64 text the JSON hops carry. */
function fromWire(d: Record<string, unknown>): DocumentData {
  for (const key of ['embedding', 'blob'] as const) {
    const dense = (d[key] as { dense?: { buffer: unknown } } | undefined)?.dense;
    if (dense && dense.buffer instanceof Uint8Array) dense.buffer = Buffer.from(dense.buffer.buffer, dense.buffer.byteOffset, dense.buffer.byteLength).toString('base64');
  }
  if (d.buffer instanceof Uint8Array) d.buffer = Buffer.from(d.buffer.buffer, d.buffer.byteOffset, d.buffer.byteLength).toString('base64');
  for (const key of ['chunks', 'matches'] as const) if (Array.isArray(d[key])) (d[key] as Record<string, unknown>[]).forEach(fromWire);
  return d as DocumentData;
}

/** The interpreter: JINAD_PYTHON, else `python3` on the PATH. */
const pythonBinary = () => process.env.JINAD_PYTHON || 'python3';

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
    const pythonPath = [PYTHON_PACKAGE_DIR, process.env.PYTHONPATH].filter(Boolean).join(':');
    const child = spawn(pythonBinary(), ['-m', 'jina._worker'], {
      cwd: m.workspace,
      env: { ...process.env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', JINAD_PY: JSON.stringify(launch) },
      stdio: ['ignore', 'inherit', 'pipe', 'pipe', 'pipe'],
    });
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
    });
  }

  /** Frames from fd 4: a length, then that many bytes of msgpack. */
  private readFrames(child: ChildProcess, onReply: (r: Reply) => void): void {
    const decoder = new Decoder();
    let buf: Buffer = Buffer.alloc(0);
    (child.stdio[4] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4) {
        const n = buf.readUInt32LE(0);
        if (buf.length < 4 + n) break;
        onReply(decoder.decode(buf.subarray(4, 4 + n)) as Reply);
        buf = buf.subarray(4 + n);
      }
    });
  }

  private send(message: Record<string, unknown>): void {
    const body = encoder.encode(message);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(body.byteLength, 0);
    const pipe = this.child.stdio[3] as NodeJS.WritableStream;
    pipe.write(head);
    pipe.write(body);
  }

  /** Run a request through the Executor: its documents (and this Executor's results) set on `req`. */
  async process(req: DataRequest): Promise<void> {
    await this.ready;
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({
        t: 'req',
        id,
        endpoint: req.header.execEndpoint,
        parameters: req.parameters ?? {},
        docs: req.data.docs,
        docs_matrix: req.docsMatrix,
        groundtruths: req.data.groundtruths,
      });
    });
    if (reply.error) throw new PythonError(`${reply.error.name}: ${reply.error.message}`, reply.error.name, reply.error.traceback, reply.error.message);
    if (reply.skipped) return;
    req.data = { ...req.data, docs: (reply.docs ?? []).map((d) => fromWire(d as Record<string, unknown>)) };
    if (reply.results) {
      const all = (req.parameters.__results__ ?? {}) as Record<string, unknown>;
      req.parameters = { ...req.parameters, __results__: { ...all, [this.metas.name]: reply.results } };
    }
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
