/**
 * A Pod: `replicas` Peas of one executor, with requests spread round-robin. `scale` changes the
 * count in place; `rollingUpdate` replaces replicas one at a time (the new one joins the
 * rotation before the old one leaves and drains), so no request fails while it runs.
 */
import type { ExecutorSpec } from './config.ts';
import { Pea, type PeaOptions } from './pea.ts';
import type { DataRequest } from './protocol.ts';

export type PodOptions = Omit<PeaOptions, 'spec' | 'replicaId' | 'replicas' | 'port'> & {
  /** With one replica, a fixed port for it (a standalone Pea). */
  port?: number;
};

export class Pod {
  private replicas: Pea[] = [];
  private next = 0;
  private closing = false;

  constructor(
    public spec: ExecutorSpec,
    private opts: PodOptions,
  ) {}

  get name(): string {
    return this.spec.name;
  }
  get replicaCount(): number {
    return this.replicas.length;
  }
  /** How each replica's process was started (kept in the partial daemon's state file). */
  get launches() {
    return this.replicas.map((p) => p.launch);
  }
  get pids(): number[] {
    return this.replicas.map((p) => p.pid!).filter(Boolean);
  }

  async start(): Promise<this> {
    const started = await Promise.allSettled(Array.from({ length: this.spec.replicas }, (_, i) => this.startReplica(i)));
    const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    this.replicas = started.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<Pea>).value);
    if (failed) {
      await this.close();
      throw failed.reason;
    }
    return this;
  }

  private async startReplica(replicaId: number, spec = this.spec): Promise<Pea> {
    const pea = await Pea.start({ ...this.opts, spec, replicaId, replicas: spec.replicas, port: spec.replicas === 1 ? this.opts.port : 0, startTimeoutMs: spec.timeoutReadyMs ?? null });
    pea.onExit((code) => {
      if (this.closing || !this.replicas.includes(pea)) return;
      // A replica died on its own: take it out of the rotation and start a new one.
      this.opts.onLog?.(`${spec.name}/${replicaId} exited with code ${code}; starting a new one`);
      this.replicas = this.replicas.filter((p) => p !== pea);
      this.startReplica(replicaId).then(
        (fresh) => {
          if (this.closing) void fresh.close();
          else this.replicas.push(fresh);
        },
        (err) => this.opts.onLog?.(`${spec.name}/${replicaId} could not be restarted: ${(err as Error).message}`),
      );
    });
    return pea;
  }

  send(req: DataRequest): Promise<DataRequest> {
    const n = this.replicas.length;
    if (n === 0) return Promise.reject(new Error(`${this.name} has no running replica`));
    const pea = this.replicas[this.next++ % n]!;
    return pea.send(req);
  }

  async scale(replicas: number): Promise<void> {
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`replicas must be a positive integer, got ${replicas}`);
    const current = this.replicas.length;
    this.spec = { ...this.spec, replicas };
    if (replicas > current) {
      const fresh = await Promise.all(Array.from({ length: replicas - current }, (_, i) => this.startReplica(current + i)));
      this.replicas.push(...fresh);
    } else if (replicas < current) {
      const leaving = this.replicas.slice(replicas);
      this.replicas = this.replicas.slice(0, replicas);
      await Promise.all(leaving.map((p) => p.close()));
    }
  }

  async rollingUpdate(usesWith: Record<string, unknown>): Promise<void> {
    const spec = { ...this.spec, usesWith: { ...this.spec.usesWith, ...usesWith } };
    for (const old of [...this.replicas]) {
      const fresh = await this.startReplica(old.replicaId, spec);
      const i = this.replicas.indexOf(old);
      if (i >= 0) this.replicas[i] = fresh;
      else this.replicas.push(fresh);
      await old.close();
    }
    this.spec = spec;
  }

  async close(): Promise<void> {
    this.closing = true;
    const all = this.replicas;
    this.replicas = [];
    await Promise.all(all.map((p) => p.close()));
  }

  /** The port of the single replica (a standalone Pea), or undefined. */
  get port(): number | undefined {
    return this.replicas.length === 1 ? this.replicas[0]!.port : undefined;
  }
}
