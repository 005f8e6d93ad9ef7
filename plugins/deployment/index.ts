/**
 * The deployment plugin: a file declares workspaces and the Flows, Pods and Peas to run in them;
 * `jinad plan` / `jinad apply` (or POST /deployments/plan, PUT /deployments/{name}) make the
 * daemon match it, and restart policies keep it so. The deployments of the daemon's own
 * jinad.config.ts are applied at every start, in the background, one after another.
 */
import { definePlugin, DeploymentFileError, resolveDeployment } from 'jinad/plugin';
import { deploymentRoutes } from './routes.ts';
import { deploymentService } from './service.ts';

export default definePlugin({
  name: 'deployment',
  prefix: '/deployments',
  dependsOn: ['workspace', 'flow', 'pod', 'pea'],
  description: 'Declared workspaces and objects: plan, apply, prune, drift',
  async setup(api) {
    const svc = await deploymentService(api);
    /** A deployment of the daemon's own config, resolved on this machine (undefined: not declared there). */
    const fromConfig = (name: string) => {
      const dep = api.config.deployments?.[name];
      return dep && resolveDeployment(name, dep, api.config.deploymentsBase ?? process.cwd(), api.config.deploymentEnv, 'jinad.config.ts');
    };
    deploymentRoutes(api.router, svc, api.config.limits, fromConfig);
    api.onStatus(async () => ({ deployments: { size: svc.rows.size } }));
    api.onReady(async () => {
      const declared = Object.entries(api.config.deployments ?? {});
      if (!declared.length) return;
      void (async () => {
        for (const [name] of declared) {
          try {
            const { desired, paths } = fromConfig(name)!;
            const plan = await svc.apply(name, svc.workspaceIdOf(name), desired, false, 'config', { kind: 'paths', paths });
            const changed = plan.changes.filter((ch) => ch.action !== 'unchanged');
            api.log.info(`deployment ${name}: ${changed.length ? changed.map((ch) => `${ch.action} ${ch.target}`).join(', ') : 'up to date'}`);
          } catch (err) {
            api.log.warn(`deployment ${name} from the config was not applied${err instanceof DeploymentFileError ? '' : ' completely'}`, err);
          }
        }
      })();
    });
  },
});
