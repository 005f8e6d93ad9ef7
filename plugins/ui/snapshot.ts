/**
 * `GET /ui/events`: the dashboard's live view, as server-sent events. A snapshot of every
 * workspace and object (state, restarts, ports, last exit) is sent at once, then again whenever
 * it changes (checked twice a second, from memory), with a comment line as a heartbeat.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { PluginApi } from 'jinad/plugin';

const CHECK_MS = 500;
const HEARTBEAT_MS = 15_000;

async function snapshot(api: PluginApi) {
  const ws = api.use('workspaces');
  const workspaces = ws.list().map((id) => {
    const item = ws.get(id)!;
    return { id, state: item.state, reason: item.reason, queued: item.queued, objects: item.metadata?.managed_objects ?? [], updated: item.time_updated };
  });
  const objects: Record<string, unknown>[] = [];
  for (const [kind, svc] of api.use('objects')) {
    for (const [id, item] of Object.entries((await svc.list()).items)) {
      const m = item.metadata;
      objects.push({ id, kind, workspace: item.workspace_id, status: m.status, restarts: m.restarts, restart: m.restart, last_exit: m.last_exit, ports: m.ports, tasks: m.tasks, executors: Object.keys((item.arguments as { replicas?: object }).replicas ?? {}), updated: item.time_updated });
    }
  }
  return { workspaces, objects };
}

/**
 * The `/ui/events` handler. One snapshot serves every open page: it is made at most once per
 * check interval, whatever the number of pages following.
 */
export function snapshotEvents(api: PluginApi) {
  let latest: { at: number; data: Promise<string> } | undefined;
  const current = () => {
    if (!latest || Date.now() - latest.at >= CHECK_MS) latest = { at: Date.now(), data: snapshot(api).then((s) => JSON.stringify(s)) };
    return latest.data;
  };
  return (c: Context) =>
    streamSSE(c, async (s) => {
      let last = '';
      let beat = Date.now();
      while (!s.aborted && !s.closed) {
        const data = await current();
        if (data !== last) {
          last = data;
          await s.writeSSE({ event: 'snapshot', data });
        } else if (Date.now() - beat > HEARTBEAT_MS) {
          await s.write(': heartbeat\n\n');
          beat = Date.now();
        }
        await s.sleep(CHECK_MS);
      }
    });
}
