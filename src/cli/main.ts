/**
 * The `jinad` command: the daemon (`jinad serve`), a client of a daemon (`jinad ws|flow|pod|pea|
 * logs|status`), and the runtime's local commands (`jinad flow --uses flow.yml`, `jinad pod|pea
 * --uses …`, `jinad partial --mode …`).
 *
 * Results go to stdout (tables, or JSON with --json); progress and build lines to stderr.
 * Exit codes: 0 ok, 1 unexpected, 2 usage, 3 not found, 4 invalid input, 5 failed (a build or
 * an object that did not start; the daemon's reason is printed), 6 daemon or engine unreachable.
 */
import { Command, CommanderError } from 'commander';
import { parseEnvs } from '../runtime/config.ts';
import { FailedError, InvalidError, JinaDClient, JinaDError, NotFoundError, UnreachableError, WorkspaceFailedError } from '../client/index.ts';

export const EXIT = { ok: 0, unexpected: 1, usage: 2, notFound: 3, invalid: 4, failed: 5, unreachable: 6 } as const;

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

function table(rows: string[][]): string {
  if (rows.length === 1) return `${rows[0]!.join('  ')}\n(none)`;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function envsOf(list: string[] = []): Record<string, string> {
  try {
    return parseEnvs(list);
  } catch (e) {
    throw new InvalidError((e as Error).message);
  }
}

function jsonArg(text: string | undefined, what: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  } catch {
    // fall through
  }
  throw new InvalidError(`${what} must be a JSON object, e.g. '{"key": "value"}'`);
}

export function program(): Command {
  const p = new Command('jinad')
    .description('Deploy and manage Jina Flows, Pods and Peas on a JinaD daemon')
    .option('--host <url>', 'the JinaD to talk to', process.env.JINAD_URL ?? 'http://127.0.0.1:8000')
    .option('--json', 'print JSON (for scripts)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const client = () => new JinaDClient(p.opts().host);
  const json = () => Boolean(p.opts().json);
  const show = (value: unknown, human: () => string) => out(json() ? JSON.stringify(value, null, 2) : human());

  p.command('serve')
    .description('run the daemon (options as for npm start: --port, --root, --config, …)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[flags...]')
    .action(async (flags: string[]) => {
      const { serve } = await import('../serve.ts');
      await serve(flags);
      await new Promise(() => {}); // until a signal ends the process
    });

  p.command('status')
    .description("the daemon's versions, Docker Engine and counts")
    .action(async () => {
      const s = (await client().status()) as any;
      show(s, () =>
        table([
          ['JINAD', 'RUNTIME', 'DOCKER', 'WORKSPACES', 'FLOWS', 'PODS', 'PEAS', 'MEMORY'],
          [s.jinad?.version, s.jinad?.runtime, s.docker?.version ?? s.docker?.error, s.workspaces?.size, s.flows?.size, s.pods?.size, s.peas?.size, s.used_memory].map((x) => String(x ?? '-')),
        ]),
      );
    });

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
          ...Object.entries(list.items).map(([id, w]) => [id, w.state, String(w.arguments?.files.length ?? 0), String(w.metadata.managed_objects.length), w.reason ?? (w.metadata.ports.length ? `ports ${w.metadata.ports.join(',')}` : '')]),
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
          `image     ${w.metadata.image_name ?? '-'} (${w.metadata.image_id ?? '-'})`,
          `network   ${w.metadata.network ?? '-'}`,
          `workdir   ${w.metadata.workdir}`,
          `files     ${(w.arguments?.files ?? []).join(' ') || '-'}`,
          `objects   ${w.metadata.managed_objects.join(' ') || '-'}`,
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

  p.command('logs')
    .description('the log of a workspace build, Flow, Pod or Pea')
    .argument('<id>')
    .option('-f, --follow', 'keep printing new lines')
    .option('--tail <n>', 'only the last n lines')
    .option('--since <time>', 'only lines since this ISO time')
    .action(async (id: string, o) => {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      for await (const line of client().logs(id, { follow: o.follow, tail: o.tail === undefined ? undefined : Number(o.tail), since: o.since, signal: ac.signal })) {
        out(json() ? JSON.stringify(line) : `${line.time.slice(0, 23)}Z ${line.stream === 'stderr' ? '!' : ' '} ${line.message}`);
      }
    });

  return p;
}

/** Commands the runtime runs locally: `jinad flow --uses …`, `jinad pod|pea --uses …`, `jinad partial …`. */
function isLocalRuntime(argv: string[]): boolean {
  return argv[0] === 'partial' || (['flow', 'pod', 'pea'].includes(argv[0] ?? '') && argv.includes('--uses') && !['create', 'ls', 'get', 'rm', 'scale', 'update'].includes(argv[1] ?? ''));
}

export async function main(argv: string[]): Promise<number> {
  if (isLocalRuntime(argv)) {
    const { run } = await import('../runtime/cli.ts');
    await run(argv);
    return EXIT.ok;
  }
  try {
    await program().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const message = (e as Error).message;
    if (e instanceof WorkspaceFailedError) {
      err(`jinad: ${message}`);
      for (const l of e.logTail.slice(-10)) err(`  │ ${l}`);
      return EXIT.failed;
    }
    err(`jinad: ${message}`);
    if (e instanceof FailedError && Array.isArray(e.body)) for (const l of (e.body as string[]).slice(0, 30)) err(`  ${l}`);
    if (e instanceof NotFoundError) return EXIT.notFound;
    if (e instanceof InvalidError) return EXIT.invalid;
    if (e instanceof FailedError) return EXIT.failed;
    if (e instanceof UnreachableError) return EXIT.unreachable;
    if (e instanceof JinaDError) return EXIT.failed;
    return EXIT.unexpected;
  }
}
