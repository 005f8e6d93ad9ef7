/** Make the plugin of one object kind: its repo, service, routes, reconcile and status. */
import { definePlugin, type PluginDefinition } from '../../src/plugins.ts';
import { openObjectRepo } from './repo.ts';
import { objectRoutes } from './routes.ts';
import type { ObjectKind } from './schema.ts';
import { createObjectService } from './service.ts';

export function objectPlugin(kind: ObjectKind, description: string): PluginDefinition {
  return definePlugin({
    name: kind,
    prefix: `/${kind}s`,
    dependsOn: ['workspace'],
    description,
    async setup(api) {
      const svc = createObjectService(api, kind, await openObjectRepo(api.store, kind));
      api.onReconcile(svc.reconcile);
      api.onStatus(async () => ({ [`${kind}s`]: await svc.status() }));
      objectRoutes(api.router, svc, kind);
    },
  });
}
