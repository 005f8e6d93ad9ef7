/** `jinad flow|pod|pea …`: objects on the daemon (create, list, get, scale, update, delete). */
import type { Command } from 'commander';
import { type Cli, envsOf, jsonArg, table } from './output.ts';

export function objectCommands(p: Command, { client, show }: Cli): void {
  const objects = (kind: 'flow' | 'pod' | 'pea') => {
    const api = () => client()[`${kind}s`];
    const cmd = p.command(kind).description(`${kind}s on the daemon (run one locally: jinad ${kind} --uses …)`);
    cmd.command('ls').action(async () => {
      const list = await api().list();
      show(list, () =>
        table([
          ['ID', 'WORKSPACE', 'STATUS', 'PORTS'],
          ...Object.entries(list.items).map(([id, o]) => [id, o.workspace_id, o.metadata.status, Object.entries(o.metadata.ports).map(([c, h]) => `${h}->${c}`).join(' ')]),
        ]),
      );
    });
    cmd.command('get').argument('<id>').action(async (id: string) => {
      const o = await api().get(id);
      show(o, () => `${id}  ${o.metadata.status}${o.metadata.exit_code ? ` (exit ${o.metadata.exit_code})` : ''}\nworkspace ${o.workspace_id}\nports     ${JSON.stringify(o.metadata.ports)}\nobject    ${JSON.stringify(o.arguments.object.arguments ?? o.arguments.object)}`);
    });
    cmd.command('rm').argument('<id>').action(async (id: string) => {
      await api().delete(id);
      show({ id, deleted: true }, () => `${id} deleted`);
    });
    return cmd;
  };

  const flow = objects('flow');
  flow.command('create')
    .description('start a Flow from a YAML in the workspace')
    .argument('<workspace>')
    .argument('<file>')
    .option('-e, --env <KEY=VALUE...>', 'environment (substitutes ${{ ENV.X }})')
    .action(async (workspace: string, file: string, o) => {
      const id = await client().flows.create(workspace, file, envsOf(o.env));
      const item = await client().flows.get(id);
      show({ id, ports: item.metadata.ports }, () => `${id} running, ports ${Object.entries(item.metadata.ports).map(([c, h]) => `${h}->${c}`).join(' ')}`);
    });
  flow.command('scale').argument('<id>').argument('<executor>').argument('<replicas>').action(async (id: string, executor: string, n: string) => {
    await client().flows.scale(id, executor, Number(n));
    show({ id, executor, replicas: Number(n) }, () => `${id}: ${executor} scaled to ${n}`);
  });
  flow.command('update')
    .description('rolling update: replace the executor’s replicas one by one with new uses_with')
    .argument('<id>')
    .argument('<executor>')
    .requiredOption('--uses-with <json>', 'the new arguments')
    .action(async (id: string, executor: string, o) => {
      await client().flows.rollingUpdate(id, executor, jsonArg(o.usesWith, '--uses-with')!);
      show({ id, executor, updated: true }, () => `${id}: ${executor} updated`);
    });

  const podArgs = (o: Record<string, string | string[] | undefined>) => ({
    ...(o.name ? { name: o.name } : {}),
    uses: o.uses,
    ...(o.pyModules ? { py_modules: o.pyModules } : {}),
    ...(o.usesWith ? { uses_with: jsonArg(o.usesWith as string, '--uses-with') } : {}),
    ...(o.replicas ? { replicas: Number(o.replicas) } : {}),
    ...(o.portIn ? { port_in: Number(o.portIn) } : {}),
  });
  for (const kind of ['pod', 'pea'] as const) {
    const cmd = objects(kind);
    const create = cmd
      .command('create')
      .description(`start a ${kind} from an executor in the workspace`)
      .argument('<workspace>')
      .requiredOption('--uses <class-or-yaml>', 'executor class (with --py-modules) or executor YAML')
      .option('--py-modules <files...>', 'files that define the executor')
      .option('--uses-with <json>', "the executor's arguments")
      .option('--name <name>')
      .option('--port-in <port>', 'publish this port (same number on the host)')
      .option('-e, --env <KEY=VALUE...>');
    if (kind === 'pod') create.option('--replicas <n>');
    create.action(async (workspace: string, o) => {
      const id = await client()[`${kind}s`].create(workspace, podArgs(o), envsOf(o.env));
      const item = await client()[`${kind}s`].get(id);
      show({ id, ports: item.metadata.ports }, () => `${id} running, ports ${Object.entries(item.metadata.ports).map(([c, h]) => `${h}->${c}`).join(' ')}`);
    });
    if (kind === 'pod') {
      cmd.command('scale').argument('<id>').argument('<replicas>').action(async (id: string, n: string) => {
        await client().pods.scale(id, Number(n));
        show({ id, replicas: Number(n) }, () => `${id} scaled to ${n}`);
      });
      cmd.command('update').argument('<id>').requiredOption('--uses-with <json>').action(async (id: string, o) => {
        await client().pods.rollingUpdate(id, jsonArg(o.usesWith, '--uses-with')!);
        show({ id, updated: true }, () => `${id} updated`);
      });
    }
  }
}
