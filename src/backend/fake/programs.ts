/**
 * What a fake object does once it "runs": it serves HTTP on loopback for the ports it asked
 * for and writes output lines. The default program stands in for the runtime's partial daemon
 * (`partial --mode <kind>`): the same routes and answers, with no executors behind them. A
 * test can script a failure through the object's env:
 *   JINAD_FAKE=fail:<message>   POST /<mode> answers 400 {detail: message, body: [...]}
 *   JINAD_FAKE=exit:<code>      the object exits at once with that code
 *   JINAD_FAKE=silent           nothing answers (readiness times out)
 *   JINAD_FAKE=slow:<ms>        POST /<mode> answers after that long (a slow start)
 *   JINAD_FAKE=resume-fails:<message>  it starts; started again later (restart, wake), it exits with 1
 * Its other ports answer as a gateway's status does, naming the object; `?delay=<ms>` answers after that long.
 */
import type { ObjectSpec } from '../types.ts';

export interface FakeRun {
  /** Port inside → handler of requests to it. */
  handlers: Map<number, (req: Request) => Promise<Response> | Response>;
  /** Exit at once with this code (the object never becomes ready). */
  exitCode?: number;
}
/** `disk` is the object's own filesystem: what a run keeps there, the next run (after a restart) finds. */
export type FakeProgram = (spec: ObjectSpec, write: (line: string) => void, disk: Map<string, unknown>) => FakeRun;

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** The partial daemon's protocol, as src/runtime/partial.ts serves it, without executors. */
export const partialDaemonProgram: FakeProgram = (spec, write, disk) => {
  const modeAt = spec.command.indexOf('--mode');
  const portAt = spec.command.indexOf('--port');
  const mode = modeAt >= 0 ? spec.command[modeAt + 1] : undefined;
  const [script, arg] = (spec.env.JINAD_FAKE ?? '').split(/:(.*)/s);
  if (!mode) return { handlers: new Map() }; // not a partial daemon: runs, serves nothing
  if (script === 'exit') {
    write(`fake ${mode} exits with ${arg}`);
    return { handlers: new Map(), exitCode: Number(arg) || 1 };
  }
  if (script === 'silent') return { handlers: new Map() };
  // As the partial daemon's --state file: after a restart it runs the object it ran before.
  type Item = { time_created: string; arguments: Record<string, unknown> };
  let item = disk.get('state') as Item | undefined;
  if (item && script === 'resume-fails') {
    write(`Error: ${arg}`);
    return { handlers: new Map(), exitCode: 1 };
  }
  if (item) write(`${mode} resumed`);
  const keep = (next: Item | undefined) => {
    item = next;
    if (next) disk.set('state', next);
    else disk.delete('state');
  };
  const control = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /') return json({});
    if (route === `GET /${mode}`) return item ? json(item) : json({ detail: `no ${mode} is running` }, 404);
    if (route === `POST /${mode}`) {
      if (script === 'slow') await new Promise((r) => setTimeout(r, Number(arg)));
      if (script === 'fail') {
        write(`Error: ${arg}`);
        return json({ detail: arg, body: [`Error: ${arg}`, '    at fake (fake.ts:1:1)'] }, 400);
      }
      const body = (await req.json().catch(() => ({}))) as Record<string, unknown>;
      keep({ time_created: new Date().toISOString(), arguments: { ...((body[mode] as object) ?? {}), envs: body.envs ?? {} } });
      write(`${mode} started`);
      return json(item, 201);
    }
    if (route === `PUT /${mode}/scale` || route === `PUT /${mode}/rolling_update`) {
      if (!item) return json({ detail: `no ${mode} is running` }, 400);
      const replicas = url.searchParams.get('replicas');
      keep({ ...item, arguments: { ...item.arguments, ...(replicas ? { replicas: Number(replicas) } : { uses_with: await req.json().catch(() => ({})) }) } });
      write(`${mode} updated`);
      return json(item);
    }
    if (route === `DELETE /${mode}`) {
      keep(undefined);
      write(`${mode} closed`);
      return json(null);
    }
    return json({ detail: `${route} not found (this partial daemon runs a ${mode})` }, 404);
  };
  write(`partial daemon (${mode}) listening`);
  const handlers = new Map<number, (req: Request) => Promise<Response> | Response>([[Number(spec.command[portAt + 1] ?? 8000), control]]);
  // Other published ports (a gateway, port_in) answer as a gateway's status does.
  const gateway = async (req: Request) => {
    const delay = Number(new URL(req.url).searchParams.get('delay') ?? 0);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    return json({ jina: { fake: true }, object: spec.id });
  };
  for (const p of spec.ports) if (!handlers.has(p.container)) handlers.set(p.container, gateway);
  return { handlers };
};
