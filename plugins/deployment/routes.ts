/**
 * /deployments: plan, apply (multipart: the deployment as JSON in the field `deployment`, and
 * the files the plan asked for in `files`), list, show, delete, and the file's JSON Schema.
 * An apply answers when it is done; with `Accept: application/x-ndjson` it streams each step
 * as it happens, then a last line `{"result": …}` or `{"error": …}`.
 */
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { stream } from 'hono/streaming';
import { DaemonError, DeploymentFileError, DeploymentNameParam, type ResolvedDeployment, deploymentsJsonSchema, DesiredDeployment, describe, fail, invalid, PlanRequest, v, validate } from 'jinad/plugin';
import type { Progress } from './apply.ts';
import type { DeploymentService } from './service.ts';

const tags = ['deployment'];
const PruneQuery = v.object({ prune: v.optional(v.picklist(['true', 'false', '1', '0'], 'prune is true or false')) });

/** The `deployment` field of an apply: JSON, valid as a DesiredDeployment. */
function desiredOf(text: string | undefined) {
  if (text === undefined) throw invalid("the multipart field 'deployment' (the deployment as JSON) is missing");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail('malformed_body', `the field 'deployment' is not JSON: ${(err as Error).message}`);
  }
  const result = v.safeParse(DesiredDeployment, raw);
  if (!result.success) throw invalid(`invalid deployment: ${result.issues.map((i) => `${v.getDotPath(i) ?? '(top level)'}: ${i.message}`).join('; ')}`);
  return result.output;
}

export function deploymentRoutes(router: Hono, svc: DeploymentService, limits: { uploadBytes: number }, fromConfig: (name: string) => ResolvedDeployment | undefined): void {
  const schema = deploymentsJsonSchema();
  router.get('/schema.json', describe({ tags, summary: 'The JSON Schema of jinad.deploy.yml (for editors)' }), (c) => c.json(schema));

  router.get('/', describe({ tags, summary: 'Every deployment, with its members’ desired and actual state' }), async (c) =>
    c.json(Object.fromEntries(await Promise.all([...svc.rows.keys()].map(async (n) => [n, await svc.detail(n)] as const)))),
  );

  router.post(
    '/plan',
    describe({ tags, summary: 'What applying a deployment would change', description: '`{name, deployment, prune}` → `{changes, pending, upload}`; changes nothing.' }),
    validate('json', PlanRequest),
    async (c) => {
      const { name, deployment, prune } = c.req.valid('json');
      return c.json((await svc.plan(name, deployment, prune)).plan);
    },
  );

  router.get(
    '/:name/plan',
    describe({ tags, summary: "The plan of a deployment of the daemon's own config: what applying it now would change (the config is applied at start)" }),
    validate('param', DeploymentNameParam),
    async (c) => {
      const { name } = c.req.valid('param');
      let resolved: ResolvedDeployment | undefined;
      try {
        resolved = fromConfig(name);
      } catch (err) {
        if (err instanceof DeploymentFileError) throw fail('deployment_files_missing', err.message);
        throw err;
      }
      if (!resolved) {
        if (!svc.rows.has(name)) throw fail('deployment_not_found', `deployment '${name}' not found`);
        throw fail('deployment_plan_elsewhere', `deployment '${name}' was applied from a client's file: plan it there (jinad plan)`);
      }
      return c.json((await svc.plan(name, resolved.desired, false)).plan);
    },
  );

  router.get('/:name', describe({ tags, summary: 'One deployment: each member’s object, live state, restarts, drift and the last error' }), validate('param', DeploymentNameParam), async (c) =>
    c.json(await svc.detail(c.req.valid('param').name)),
  );

  router.put(
    '/:name',
    describe({
      tags,
      summary: 'Apply a deployment',
      description:
        'Multipart: `deployment` (JSON, as in POST /deployments/plan) and `files` (the files the plan lists under `upload`, named by their workspace path). ?prune=true deletes what an earlier apply made that is no longer declared.',
    }),
    bodyLimit({ maxSize: limits.uploadBytes, onError: () => Promise.reject(fail('upload_too_large', `upload larger than ${limits.uploadBytes} bytes`)) }),
    validate('param', DeploymentNameParam),
    validate('query', PruneQuery),
    async (c) => {
      const { name } = c.req.valid('param');
      const prune = ['true', '1'].includes(c.req.valid('query').prune ?? 'false');
      const workspaceId = svc.workspaceIdOf(name);
      const staged = await svc.receive(c, workspaceId);
      let desired: ReturnType<typeof desiredOf>;
      try {
        desired = desiredOf(staged.fields.deployment);
      } catch (err) {
        await svc.discard(workspaceId, staged);
        throw err;
      }
      const run = (progress?: (p: Progress) => void) => svc.apply(name, workspaceId, desired, prune, 'api', { kind: 'staged', staged }, progress);
      if (!(c.req.header('accept') ?? '').includes('application/x-ndjson')) return c.json(await run());
      c.header('content-type', 'application/x-ndjson');
      return stream(c, async (s) => {
        const write = (line: unknown) => s.write(`${JSON.stringify(line)}\n`);
        try {
          const plan = await run((p) => void write({ progress: p }));
          await write({ result: plan });
        } catch (err) {
          const e = err instanceof DaemonError ? err : undefined;
          await write({ error: { status: e?.status ?? 500, detail: (err as Error).message, body: e?.body ?? [] } });
        }
      });
    },
  );

  router.delete('/:name', describe({ tags, summary: 'Delete a deployment: its objects and its workspace' }), validate('param', DeploymentNameParam), async (c) => {
    await svc.remove(c.req.valid('param').name);
    return c.json(null);
  });
}
