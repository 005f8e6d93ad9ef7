/**
 * A remote Executor: an entry of a Flow with `host: <JinaD address>` is deployed through that
 * daemon as a Pod (its files uploaded to a workspace there, or an existing `workspace_id`
 * reused with no rebuild), and that step of the Flow goes to the Pod's published head. When
 * the Flow closes, the Pod is deleted and the workspace kept, so the next Flow reuses its files
 * and image. A daemon that cannot be reached, or fails, stops the Flow's start with its message.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JinaDClient } from '../client/index.ts';
import type { ExecutorSpec } from './config.ts';
import { sendRequest } from './pea.ts';
import type { DataRequest } from './protocol.ts';

const HEAD_PORT = '8081/tcp';
/** Loaded only for a Flow with a remote Executor: the client and its HTTP stack are not part of every start. */
const loadClient = () => import('../client/index.ts');

/**
 * A Python Executor's workspace there needs Python: the step's folder's requirements files go
 * with it, or, where it has none, a `.jinad` that says `python = 3`.
 */
function pythonFiles(spec: ExecutorSpec): string[] {
  if (spec.uses.kind !== 'class' || !spec.uses.python) return [];
  if (spec.uploadFiles.some((f) => /requirements.*\.txt$|^\.jinad$/.test(path.basename(f)))) return [];
  const reqs = readdirSync(spec.dir).filter((f) => /requirements.*\.txt$/.test(f)).map((f) => path.join(spec.dir, f));
  if (reqs.length) return reqs;
  if (!pythonJinad) {
    pythonJinad = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-remote-')), '.jinad'); // one per process
    writeFileSync(pythonJinad, 'python = 3\n');
  }
  return [pythonJinad];
}
let pythonJinad: string | undefined;

export class RemotePod {
  private client!: JinaDClient;
  private agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private podId?: string;
  private host: string;
  private daemonUrl: string;
  private port?: number;
  replicaCount: number;
  /** The remote workspace (created, or reused from `workspace_id`). */
  workspaceId?: string;

  constructor(
    public spec: ExecutorSpec,
    private opts: { onLog?: (line: string) => void } = {},
  ) {
    const [host, port] = spec.host!.split(':');
    this.host = host!;
    this.daemonUrl = `${spec.https ? 'https' : 'http'}://${host}:${spec.portJinad ?? port ?? 8000}`;
    this.replicaCount = spec.replicas;
  }

  get name(): string {
    return this.spec.name;
  }

  async start(): Promise<this> {
    const { spec } = this;
    this.client = new (await loadClient()).JinaDClient(this.daemonUrl, { token: spec.token, cacert: spec.cacert });
    if (!(await this.client.alive())) throw new Error(`${spec.name}: the JinaD at ${this.client.url} cannot be reached`);
    const modules = spec.uses.kind === 'class' ? spec.uses.modules : [];
    const uploads = [...modules, ...spec.uploadFiles.map((f) => path.resolve(spec.dir, f)), ...pythonFiles(spec)].filter((f, i, all) => all.indexOf(f) === i);
    for (const f of uploads) if (!existsSync(f)) throw new Error(`${spec.name}: upload_files: ${f} does not exist`);
    this.workspaceId = spec.workspaceId ? await this.reuse(spec.workspaceId, uploads) : await this.client.workspaces.create(uploads, { onLog: (l) => this.opts.onLog?.(`${spec.name}@${this.host}: ${l.message}`) });
    const args = {
      name: spec.name,
      ...(spec.uses.kind === 'class' ? { uses: spec.uses.className, py_modules: modules.map((m) => path.basename(m)) } : {}),
      uses_with: spec.usesWith,
      replicas: spec.replicas,
    };
    this.podId = await this.client.pods.create(this.workspaceId, args, spec.env);
    const pod = await this.client.pods.get(this.podId);
    this.port = pod.metadata.ports[HEAD_PORT];
    this.opts.onLog?.(`${spec.name}: running on ${this.client.url} as ${this.podId} (workspace ${this.workspaceId})`);
    return this;
  }

  /** An existing ACTIVE workspace is used as it is (no upload, no rebuild); otherwise it is created with that id. */
  private async reuse(id: string, uploads: string[]): Promise<string> {
    const wsId = id.startsWith('jworkspace-') ? id : `jworkspace-${id}`;
    try {
      const item = await this.client.workspaces.get(wsId);
      if (item.state === 'ACTIVE' && item.queued === 0) return wsId;
      await this.client.workspaces.wait(wsId);
      return wsId;
    } catch (err) {
      if (!(err instanceof (await loadClient()).NotFoundError)) throw err;
      return this.client.workspaces.create(uploads, { id: wsId });
    }
  }

  send(req: DataRequest): Promise<DataRequest> {
    return sendRequest(this.agent, this.host, this.port!, `${this.name}@${this.host}`, req, false); // JSON: the remote daemon's runtime may be another version
  }

  async scale(replicas: number): Promise<void> {
    await this.client.pods.scale(this.podId!, replicas);
    this.replicaCount = replicas;
  }

  async rollingUpdate(usesWith: Record<string, unknown>): Promise<void> {
    await this.client.pods.rollingUpdate(this.podId!, usesWith);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    if (this.podId) await this.client.pods.delete(this.podId).catch((err) => this.opts.onLog?.(`${this.name}: could not delete ${this.podId}: ${(err as Error).message}`));
  }
}
