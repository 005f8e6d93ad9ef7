/** `jinad ws …`: workspaces (upload with the build shown live, list, get, delete). */
import type { Command } from 'commander';
import { type Cli, err, kib, table } from './output.ts';

export function workspaceCommands(p: Command, { client, json, show }: Cli): void {
  const ws = p.command('ws').alias('workspace').description('workspaces: files, an image and a network');
  const onBuild = (onLog: boolean) => ({
    onUpload: (bytes: number) => err(`uploading ${kib(bytes)}…`),
    onLog: onLog ? (l: { message: string }) => err(`  │ ${l.message}`) : undefined,
  });
  ws.command('create')
    .description('upload files and folders (a folder uploads its contents, sub-paths kept) and build; shows the build live')
    .argument('<paths...>')
    .option('--id <id>', 'use this workspace id')
    .option('--no-wait', 'return as soon as the upload is accepted')
    .option('-q, --quiet', 'no build output')
    .action(async (paths: string[], o) => {
      const id = await client().workspaces.create(paths, { id: o.id, noWait: !o.wait, ...onBuild(!o.quiet && !json()) });
      const item = await client().workspaces.get(id);
      show({ id, state: item.state }, () => `${id} ${item.state}`);
    });
  ws.command('update')
    .description('upload more files and rebuild (also retries a FAILED workspace)')
    .argument('<id>')
    .argument('[paths...]')
    .option('-q, --quiet', 'no build output')
    .action(async (id: string, paths: string[], o) => {
      await client().workspaces.update(id, paths, onBuild(!o.quiet && !json()));
      show({ id, state: 'ACTIVE' }, () => `${id} ACTIVE`);
    });
  ws.command('ls')
    .description('all workspaces')
    .action(async () => {
      const list = await client().workspaces.list();
      show(list, () =>
        table([
          ['ID', 'STATE', 'FILES', 'OBJECTS', 'NOTE'],
          ...Object.entries(list.items).map(([id, w]) => [id, w.state, String(w.arguments?.files.length ?? 0), String(w.metadata?.managed_objects.length ?? 0), w.reason ?? (w.metadata?.ports.length ? `ports ${w.metadata.ports.join(',')}` : '')]),
        ]),
      );
    });
  ws.command('get')
    .argument('<id>')
    .action(async (id: string) => {
      const w = await client().workspaces.get(id);
      show(w, () =>
        [
          `${id}  ${w.state}${w.reason ? `: ${w.reason}` : ''}`,
          `image     ${w.metadata?.image_name ?? '-'} (${w.metadata?.image_id ?? '-'})`,
          `network   ${w.metadata?.network ?? '-'}`,
          `workdir   ${w.metadata?.workdir ?? '-'}`,
          `files     ${(w.arguments?.files ?? []).join(' ') || '-'}`,
          `objects   ${w.metadata?.managed_objects.join(' ') || '-'}`,
          ...(w.log_tail.length ? ['last build lines:', ...w.log_tail.map((l) => `  │ ${l}`)] : []),
        ].join('\n'),
      );
    });
  ws.command('rm')
    .description('delete a workspace with everything in it (containers, network, image, files)')
    .argument('<id>')
    .option('--container-only', 'only remove its `run` container')
    .action(async (id: string, o) => {
      await client().workspaces.delete(id, o.containerOnly ? { container: true, network: false, files: false, everything: false } : { everything: true });
      show({ id, deleted: true }, () => `${id} deleted`);
    });
}
