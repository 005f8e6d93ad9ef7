/**
 * A Flow: its Pods wired as a DAG, and a gateway in front. An executor without `needs` follows
 * the one before it; `needs: [a, b]` joins branches, merging their documents by id; ends left
 * open are joined into the answer. A request the executor failed on skips the rest of the Flow
 * and comes back with status ERROR.
 */
import type { FlowSpec } from './config.ts';
import { Gateway } from './gateway.ts';
import { flowMetrics } from './metrics.ts';
import { Pod } from './pod.ts';
import { type DataRequest, ERROR } from './protocol.ts';
import { mergeRequests, unreduced } from './reduce.ts';
import { RequestLog } from './request-log.ts';
import { RemotePod } from './remote.ts';
import { ShardedPod } from './shards.ts';

/** What a Flow needs of a step: a local Pod (sharded or not), or a Pod on a remote JinaD. */
export type Step = Pod | ShardedPod | RemotePod;

export interface FlowOptions {
  /** Executors' workspace root (their files, `metas.workspace`). Default: the Flow file's folder. */
  workspace?: string;
  /** Address the gateway listens on. */
  host?: string;
  /** Overrides `with.port_expose`; 0 picks a free port. */
  port?: number;
  onLog?: (line: string) => void;
  /** Log one line per request (endpoint, docs, status, time). */
  logRequests?: boolean;
}

export class Flow {
  readonly pods = new Map<string, Step>();
  private gateway?: Pick<Gateway, 'listen' | 'close' | 'port'>;
  private requestLog?: RequestLog;
  private needs = new Map<string, string[]>();
  private ends: string[] = [];
  /** Joins that hand their branches over unmerged (`disable_reduce`). */
  private disableReduce = new Set<string>();
  /** Served by the gateway at /metrics. */
  readonly metrics = flowMetrics();

  constructor(
    readonly spec: FlowSpec,
    private opts: FlowOptions = {},
  ) {
    let previous = 'gateway';
    const consumed = new Set<string>();
    for (const e of spec.executors) {
      const needs = e.needs.length ? e.needs : [previous];
      this.needs.set(e.name, needs);
      if (e.disableReduce) this.disableReduce.add(e.name);
      for (const n of needs) consumed.add(n);
      previous = e.name;
    }
    this.ends = spec.executors.map((e) => e.name).filter((n) => !consumed.has(n));
  }

  get port(): number | undefined {
    return this.gateway?.port;
  }

  async start(): Promise<this> {
    const workspace = this.opts.workspace ?? this.spec.dir;
    try {
      // Every start settles before a failure is handled: closing while another Pod is still
      // starting would leave that Pod's processes running once its start completes.
      const started = await Promise.allSettled(
        this.spec.executors.map(async (e) => {
          const local = { workspace, onLog: this.opts.onLog, host: '127.0.0.1' };
          const pod = e.host ? new RemotePod(e, { onLog: this.opts.onLog }) : ShardedPod.needed(e) ? new ShardedPod(e, local) : new Pod(e, local);
          this.pods.set(e.name, pod);
          await pod.start();
        }),
      );
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      this.requestLog = this.opts.logRequests && this.opts.onLog ? new RequestLog(this.opts.onLog) : undefined;
      const gatewayOpts = { requestLog: this.requestLog, metrics: this.metrics };
      // gRPC (and its library) only for the Flows that speak it.
      this.gateway =
        this.spec.protocol === 'grpc' ? new (await import('./grpc.ts')).GrpcGateway((req) => this.process(req), gatewayOpts) : new Gateway(this.spec, (req) => this.process(req), gatewayOpts);
      await this.gateway.listen(this.opts.port ?? this.spec.portExpose ?? 0, this.opts.host ?? '0.0.0.0');
    } catch (err) {
      await this.close();
      throw err;
    }
    return this;
  }

  /** Run one request through the DAG. */
  async process(req: DataRequest): Promise<DataRequest> {
    const target = req.header.targetPeapod ? new RegExp(req.header.targetPeapod) : undefined;
    const results = new Map<string, Promise<DataRequest>>([['gateway', Promise.resolve(req)]]);
    const run = (name: string): Promise<DataRequest> => {
      let p = results.get(name);
      if (!p) {
        p = (async () => {
          const inputs = await Promise.all(this.needs.get(name)!.map(run));
          const input = inputs.length === 1 ? inputs[0]! : this.disableReduce.has(name) ? unreduced(inputs) : mergeRequests(inputs);
          if (input.status.code === ERROR || (target && !target.test(name))) return input;
          const t0 = performance.now();
          try {
            return await this.pods.get(name)!.send(input);
          } finally {
            this.metrics.executor.observe({ executor: name }, (performance.now() - t0) / 1000);
          }
        })();
        results.set(name, p);
      }
      return p;
    };
    if (!this.ends.length) return req;
    const outs = await Promise.all(this.ends.map(run));
    const out = outs.length === 1 ? outs[0]! : mergeRequests(outs);
    delete out.docsMatrix;
    return out;
  }

  private pod(name: string): Step {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`no executor named '${name}' in this Flow (it has: ${[...this.pods.keys()].join(', ')})`);
    return pod;
  }

  async scale(podName: string, replicas: number): Promise<void> {
    await this.pod(podName).scale(replicas);
  }

  async rollingUpdate(podName: string, usesWith: Record<string, unknown>): Promise<void> {
    await this.pod(podName).rollingUpdate(usesWith);
  }

  async close(): Promise<void> {
    await this.gateway?.close();
    this.requestLog?.flush();
    await Promise.all([...this.pods.values()].map((p) => p.close()));
  }
}
