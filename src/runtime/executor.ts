/**
 * Executors: a class extending `Executor`, its methods bound to endpoints with `@requests`
 * (`@requests()` is the default handler, `@requests('/index')` or `@requests(['/a', '/b'])`
 * binds paths). Plain JavaScript without decorators can declare the same with a static map:
 * `static requests = { '/index': 'add', default: 'echo' }`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DocumentArray } from './document.ts';

export const DEFAULT_ENDPOINT = '__default__';

export interface ExecutorMetas {
  /** The executor's name in the Flow (or its class name). */
  name: string;
  /** Root of the executor's files: the Flow's workspace (`/workspace` in a container). */
  workspace: string;
  /** Which replica of its Pod this is (0-based). */
  replicaId: number;
  replicas: number;
  /** Which shard of its executor this is (0-based), of how many (1 when not sharded). */
  shardId?: number;
  shards?: number;
}

/** What a handler receives. */
export interface RequestContext {
  docs: DocumentArray;
  parameters: Record<string, unknown>;
  /** The endpoint the request was sent to, e.g. `/index`. */
  endpoint: string;
  /** At a join: the documents of each incoming branch, in `needs` order. */
  docsMatrix?: DocumentArray[];
}

export type Handler = (ctx: RequestContext) => unknown;

const bindings = new WeakMap<object, Map<string, string>>();

function bind(ctor: object, method: string, on: string | string[] | undefined) {
  let map = bindings.get(ctor);
  if (!map) bindings.set(ctor, (map = new Map()));
  for (const endpoint of on === undefined ? [DEFAULT_ENDPOINT] : Array.isArray(on) ? on : [on]) map.set(endpoint, method);
}

/**
 * Bind a method to endpoints. Works as a standard (TC39) decorator and as a TypeScript
 * `experimentalDecorators` one.
 */
export function requests(opts?: string | string[] | { on?: string | string[] }) {
  // `@requests('/index')`, `@requests(['/a', '/b'])`, or Jina's keyword form `@requests({ on: '/index' })`.
  const on = typeof opts === 'object' && opts !== null && !Array.isArray(opts) ? opts.on : opts;
  return function (target: unknown, context: unknown, _descriptor?: unknown): void {
    if (context && typeof context === 'object' && 'kind' in context) {
      const ctx = context as unknown as { name: string | symbol; addInitializer(fn: (this: object) => void): void };
      ctx.addInitializer(function () {
        bind(this.constructor, String(ctx.name), on);
      });
      return;
    }
    bind((target as { constructor: object }).constructor, String(context), on);
  };
}

/** Set by the loader just before it constructs an executor, so constructors see their metas. */
let constructing: ExecutorMetas | undefined;
export function withMetas<T>(metas: ExecutorMetas, make: () => T): T {
  constructing = metas;
  try {
    return make();
  } finally {
    constructing = undefined;
  }
}

export class Executor {
  readonly metas: ExecutorMetas;

  constructor(_args: Record<string, unknown> = {}) {
    this.metas = constructing ?? { name: this.constructor.name, workspace: process.cwd(), replicaId: 0, replicas: 1 };
  }

  /** A directory of its own for this executor (and replica), created on first use. */
  get workspace(): string {
    const { workspace, name, replicaId, replicas } = this.metas;
    const dir = replicas > 1 ? path.join(workspace, name, String(replicaId)) : path.join(workspace, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Called once when the Pea stops. */
  async close(): Promise<void> {}
}

/** The handler for an endpoint: its own binding, else the default one, else none. `overrides` (a Flow's `uses_requests`) come first. */
export function handlerFor(executor: object, endpoint: string, overrides: Record<string, string> = {}): Handler | undefined {
  const chain: Map<string, string>[] = [new Map(Object.entries(overrides).map(([k, v]) => [k === 'default' ? DEFAULT_ENDPOINT : k, v]))];
  for (let c: object | null = executor.constructor; c && c !== Object; c = Object.getPrototypeOf(c)) {
    const decorated = bindings.get(c);
    if (decorated) chain.push(decorated);
    const declared = (c as { requests?: Record<string, string> }).requests;
    if (declared && typeof declared === 'object' && Object.hasOwn(c, 'requests')) {
      chain.push(new Map(Object.entries(declared).map(([k, v]) => [k === 'default' ? DEFAULT_ENDPOINT : k, v])));
    }
  }
  for (const key of [endpoint, DEFAULT_ENDPOINT]) {
    for (const map of chain) {
      const method = map.get(key);
      if (method) {
        const fn = (executor as Record<string, unknown>)[method];
        if (typeof fn !== 'function') throw new Error(`${executor.constructor.name}.${method} is bound to '${key}' but is not a method`);
        return (fn as Handler).bind(executor);
      }
    }
  }
  return undefined;
}
