/**
 * The plugin SDK (`import … from 'jinad/plugin'`): everything a plugin may use, and nothing a
 * plugin must not. Built-in plugins and user plugins import only from here.
 *
 * A resource plugin:
 *
 *   import { definePlugin, validate, describe, v } from 'jinad/plugin';
 *   export default definePlugin({
 *     name: 'hello',
 *     prefix: '/hello',
 *     dependsOn: ['workspace'],
 *     options: v.object({ greeting: v.optional(v.string(), 'hello') }), // hello: {...}, JINAD_HELLO_GREETING, --hello-greeting
 *     setup(api) {
 *       api.router.get('/:name', validate('param', v.object({ name: v.string() })), (c) =>
 *         c.json({ [String(api.options.greeting)]: c.req.valid('param').name }));
 *     },
 *   });
 *
 * A new kind of object (its own routes, ids, store rows, logs, reconcile): `defineObjectKind`,
 * see src/objects/define.ts and plugins/pea/index.ts.
 */
export * as v from 'valibot';
export type { Backend, BuildSpec, ObjectSpec, ObjectState, Owned, PortRequest } from '../backend/types.ts';
export { BuildError } from '../backend/types.ts';
export type { JinadConfig } from '../config.ts';
export * from '../contract/index.ts';
export { DaemonError, type ErrorCode, fail, invalid, isUnreachable, backendUnavailable } from '../errors.ts';
export { describe } from '../http/describe.ts';
export { validate } from '../http/validate.ts';
export { type JobContext, type JobRunner, RetryLater } from '../jobs.ts';
export { type LogFiles, FellBehindError, lineKey, msIso, nanoIso, normalizeTime } from '../logfiles.ts';
export type { Logger } from '../logger.ts';
export type { Metrics, TargetGroup } from '../metrics/index.ts';
export { type CreateInput, defineObjectKind, type ObjectKindSpec, type ObjectService, type PreparedObject } from '../objects/define.ts';
/** Deployments files: read one, resolve a deployment's folder into file hashes. */
export { DeploymentFileError, loadDeploymentsFile, resolveDeployment, type ResolvedDeployment } from '../deploy/source.ts';
export { deploymentsJsonSchema } from '../deploy/schema.ts';
export { prepareExecutor } from '../objects/executor.ts';
export { PARTIAL_PORT } from '../objects/partial.ts';
/** Reading a user's Flow YAML and executor arguments as the runtime will (errors name the file and field). */
export { DefinitionError, ENV_EXPR, executorSpec, loadFlow } from '../runtime/config.ts';
/** Reading a user's files in a folder containers write: no symlink followed, checked on the descriptor. */
export { openInside, readInside, resolveInside, UnsafePathError } from '../runtime/safe-files.ts';
export type { Store } from '../store/db.ts';
export { JINA_COMPAT, RUNTIME_VERSION, VERSION } from '../version.ts';
export { definePlugin, type KindOwner, type KindRegistry, type PluginApi, type PluginDefinition, type Services, type StagedFiles, type WorkspaceService } from './define.ts';
