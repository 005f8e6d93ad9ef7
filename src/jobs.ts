/**
 * Background jobs: persisted before they run, at most `concurrency` at once, and strictly one
 * after another per key (a workspace). A later job for a key queues behind the running one; it
 * is never dropped. Jobs still in the table at start-up (the daemon stopped mid-way) run again.
 */
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import type { Logger } from './logger.ts';
import type { Store } from './store/db.ts';
import { jobs } from './store/schema.ts';

/**
 * Thrown by a handler to run the job again after `ms` (e.g. the backend is down). The job keeps
 * its place (later jobs of its key stay behind it) but not its slot while it waits.
 */
export class RetryLater extends Error {
  constructor(readonly ms: number, message = `retry in ${ms} ms`) {
    super(message);
  }
}

export interface JobContext {
  id: string;
  key: string;
  /** Aborted when the daemon shuts down or the key is cancelled. */
  signal: AbortSignal;
  /** True when this run picks the job up again after a restart. */
  resumed: boolean;
  /** 0 on the first run; counts the runs after a RetryLater. */
  attempt: number;
}
export type JobHandler<P = unknown> = (payload: P, ctx: JobContext) => Promise<void>;

interface Entry {
  id: string;
  key: string;
  controller: AbortController;
}

export class JobRunner {
  private handlers = new Map<string, JobHandler>();
  private chains = new Map<string, Promise<void>>();
  private entries = new Set<Entry>();
  private running = 0;
  private waiters: (() => void)[] = [];
  private seq = Date.now() * 1000;
  private closing = false;

  constructor(
    private store: Store,
    private concurrency: number,
    private log: Logger,
  ) {}

  /** Register the handler of a job type; the payload is the JSON given to `enqueue`. */
  define<P>(type: string, handler: JobHandler<P>): void {
    if (this.handlers.has(type)) throw new Error(`job type '${type}' is defined twice`);
    this.handlers.set(type, handler as JobHandler);
  }

  /** Persist a job and schedule it behind earlier jobs of the same key. */
  async enqueue(type: string, key: string, payload: unknown): Promise<string> {
    if (!this.handlers.has(type)) throw new Error(`no handler for job type '${type}'`);
    const id = randomUUID();
    await this.store.db.insert(jobs).values({ id, type, key, payload, seq: ++this.seq });
    this.schedule({ id, type, key, payload, resumed: false });
    return id;
  }

  /** Schedule every job left in the table by an earlier run of the daemon. */
  async resume(): Promise<number> {
    const rows = await this.store.db.select().from(jobs).orderBy(asc(jobs.seq));
    for (const row of rows) {
      if (!this.handlers.has(row.type)) {
        this.log.warn(`dropping job ${row.id}: no plugin handles job type '${row.type}'`);
        await this.store.db.delete(jobs).where(eq(jobs.id, row.id));
        continue;
      }
      this.seq = Math.max(this.seq, row.seq);
      this.schedule({ id: row.id, type: row.type, key: row.key, payload: row.payload, resumed: true });
    }
    return rows.length;
  }

  /** Keys that have jobs in the table (queued, running, or left by an earlier run). */
  async persistedKeys(): Promise<Set<string>> {
    const rows = await this.store.db.select({ key: jobs.key }).from(jobs);
    return new Set(rows.map((r) => r.key));
  }

  /** Jobs queued or running, of every key. */
  get size(): number {
    return this.entries.size;
  }

  /** Jobs queued or running for a key. */
  pending(key: string): number {
    let n = 0;
    for (const e of this.entries) if (e.key === key) n++;
    return n;
  }

  /** Drop queued jobs of a key, abort its running one, and wait until none is left. */
  async cancel(key: string): Promise<void> {
    for (const e of this.entries) if (e.key === key) e.controller.abort(new Error('cancelled'));
    await this.store.db.delete(jobs).where(eq(jobs.key, key));
    await this.chains.get(key);
  }

  /** Resolves once every job of the key (or of all keys) has settled. */
  async idle(key?: string): Promise<void> {
    if (key) await this.chains.get(key);
    else await Promise.all(this.chains.values());
  }

  /** Abort running jobs and wait for them; their rows stay so they run again next start. */
  async close(): Promise<void> {
    this.closing = true;
    for (const e of this.entries) e.controller.abort(new Error('daemon shutting down'));
    await Promise.all(this.chains.values());
  }

  private schedule(job: { id: string; type: string; key: string; payload: unknown; resumed: boolean }) {
    const entry: Entry = { id: job.id, key: job.key, controller: new AbortController() };
    this.entries.add(entry);
    const prev = this.chains.get(job.key) ?? Promise.resolve();
    const next = prev.then(() => this.run(job, entry));
    this.chains.set(job.key, next);
    void next.finally(() => {
      if (this.chains.get(job.key) === next) this.chains.delete(job.key);
    });
  }

  private async run(job: { id: string; type: string; key: string; payload: unknown; resumed: boolean }, entry: Entry) {
    const { signal } = entry.controller;
    try {
      for (let attempt = 0; ; attempt++) {
        if (signal.aborted) return;
        // A job cancelled while it waits for a slot leaves at once (it never takes the slot).
        if (!(await this.acquire(signal))) return;
        let retryIn: number | undefined;
        try {
          if (signal.aborted) return;
          await this.handlers.get(job.type)!(job.payload, { id: job.id, key: job.key, signal, resumed: job.resumed, attempt });
        } catch (err) {
          if (!(err instanceof RetryLater) || signal.aborted) throw err;
          retryIn = err.ms;
        } finally {
          this.release();
        }
        if (retryIn === undefined) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, retryIn);
          signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    } catch (err) {
      if (!signal.aborted) this.log.error(`job ${job.type} for ${job.key} failed`, err);
    } finally {
      this.entries.delete(entry);
      // A job interrupted by shutdown keeps its row and runs again at the next start.
      if (!(this.closing && signal.aborted)) await this.store.db.delete(jobs).where(eq(jobs.id, job.id)).catch(() => {});
    }
  }

  /** Take a slot; false (and no slot) when the signal aborts first. */
  private acquire(signal: AbortSignal): Promise<boolean> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiter = () => {
        signal.removeEventListener('abort', onAbort);
        this.running++;
        resolve(true);
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release() {
    this.running--;
    this.waiters.shift()?.();
  }
}
