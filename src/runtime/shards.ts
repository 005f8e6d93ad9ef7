/**
 * An executor with shards, as Jina 2 runs one: `shards` Pods of it (each with its replicas), and
 * optional `uses_before` / `uses_after` executors around them. With `polling: any` a request goes
 * to one shard (in turn); with `all` to every shard, and the answers are reduced: by
 * `uses_after` when there is one (it gets them as `docsMatrix`), else merged by document id.
 * Each shard's executor knows which it is (`metas.shardId` of `metas.shards`).
 */
import type { ExecutorSpec, UsesSpec } from './config.ts';
import { Pod, type PodOptions } from './pod.ts';
import { cloneRequest, type DataRequest, ERROR } from './protocol.ts';
import { mergeRequests } from './reduce.ts';

/** An executor to run around the shards; a no-op one (`_pass`, Jina's `_merge…`) is the default reduce, not a Pod. */
const around = (uses: UsesSpec | undefined) => (uses && uses.kind !== 'passthrough' ? uses : undefined);

export class ShardedPod {
  private shards: Pod[];
  private before?: Pod;
  private after?: Pod;
  private next = 0;

  /** Whether an executor needs more than a Pod: shards, or executors around it. */
  static needed(spec: ExecutorSpec): boolean {
    return spec.shards > 1 || !!around(spec.usesBefore) || !!around(spec.usesAfter);
  }

  constructor(
    public spec: ExecutorSpec,
    opts: PodOptions,
  ) {
    this.shards = Array.from({ length: spec.shards }, (_, shardId) => new Pod(spec, { ...opts, shardId, shards: spec.shards }));
    // The executors around the shards: one replica each, their own `uses`, nothing of the shards' arguments.
    const pod = (uses: UsesSpec, role: string) => new Pod({ ...spec, name: `${spec.name}/${role}`, uses, usesWith: uses.kind === 'class' ? uses.with : {}, usesRequests: {}, replicas: 1, shards: 1 }, opts);
    const before = around(spec.usesBefore);
    const after = around(spec.usesAfter);
    if (before) this.before = pod(before, 'uses_before');
    if (after) this.after = pod(after, 'uses_after');
  }

  get name(): string {
    return this.spec.name;
  }
  /** Replicas of each shard. */
  get replicaCount(): number {
    return this.shards[0]?.replicaCount ?? 0;
  }
  private get pods(): Pod[] {
    return [...(this.before ? [this.before] : []), ...this.shards, ...(this.after ? [this.after] : [])];
  }
  get launches() {
    return this.pods.flatMap((p) => p.launches);
  }

  async start(): Promise<this> {
    const started = await Promise.allSettled(this.pods.map((p) => p.start()));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await this.close();
      throw failed.reason;
    }
    return this;
  }

  async send(req: DataRequest): Promise<DataRequest> {
    const input = this.before ? await this.before.send(req) : req;
    if (input.status.code === ERROR) return input;
    if (this.spec.polling === 'any') {
      const out = await this.shards[this.next++ % this.shards.length]!.send(input);
      return this.after && out.status.code !== ERROR ? this.after.send(out) : out;
    }
    const outs = await Promise.all(this.shards.map((s) => s.send(cloneRequest(input))));
    const merged = mergeRequests(outs);
    if (!this.after || merged.status.code === ERROR) {
      delete merged.docsMatrix;
      return merged;
    }
    // uses_after reduces: the shards' answers as docsMatrix, and the first shard's documents as docs.
    return this.after.send({ ...merged, data: { ...merged.data, docs: outs[0]!.data.docs } });
  }

  /** Replicas of every shard. */
  async scale(replicas: number): Promise<void> {
    await Promise.all(this.shards.map((s) => s.scale(replicas)));
  }

  /** New `uses_with` for every shard's replicas, one shard after the other (the others keep serving). */
  async rollingUpdate(usesWith: Record<string, unknown>): Promise<void> {
    for (const s of this.shards) await s.rollingUpdate(usesWith);
    this.spec = { ...this.spec, usesWith: { ...this.spec.usesWith, ...usesWith } };
  }

  async close(): Promise<void> {
    await Promise.all(this.pods.map((p) => p.close()));
  }
}
