/**
 * How many executor replicas run, per workspace and in all, across every object kind: each kind
 * adds a source (its objects, from memory), and creation and scaling check the limits against
 * the sum. The daemon provides one ledger to every object kind (service `replicas`).
 */
export interface ReplicaLedger {
  /** A kind's objects: each with its workspace and replicas per executor. */
  add(source: () => { workspaceId: string; replicas: number }[]): void;
  /** Replicas running in a workspace, or in the whole daemon. */
  total(workspaceId?: string): number;
}

export function createReplicaLedger(): ReplicaLedger {
  const sources: (() => { workspaceId: string; replicas: number }[])[] = [];
  return {
    add: (source) => void sources.push(source),
    total: (workspaceId) =>
      sources
        .flatMap((s) => s())
        .filter((o) => !workspaceId || o.workspaceId === workspaceId)
        .reduce((n, o) => n + o.replicas, 0),
  };
}

/**
 * Object starts at once, across every kind: starting an object is the heaviest thing the daemon
 * asks of a machine (a container, processes, a readiness wait). Beyond `concurrency`, starts wait
 * their turn, so a burst of creates cannot starve everything else (reads, deletes, builds).
 */
export interface StartSlots {
  /** Run `fn` once a slot is free; the slot is held until it settles. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

export function createStartSlots(concurrency: number): StartSlots {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(fn) {
      if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
      running++;
      try {
        return await fn();
      } finally {
        running--;
        waiting.shift()?.();
      }
    },
  };
}
