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
