/**
 * The `jinad` command: the daemon (`jinad serve`), a client of a daemon (`jinad ws|flow|pod|pea|
 * logs|status`), and the runtime's local commands (`jinad flow --uses flow.yml`, `jinad pod|pea
 * --uses …`, `jinad partial --mode …`).
 *
 * Results go to stdout (tables, or JSON with --json); progress and build lines to stderr.
 * Exit codes: 0 ok, 1 unexpected, 2 usage, 3 not found, 4 invalid input, 5 failed (a build or
 * an object that did not start; the daemon's reason is printed), 6 daemon or engine unreachable,
 * 7 no valid token, or one whose scope does not allow the call, 8 `jinad plan`: changes pending.
 */
import { Command, CommanderError } from 'commander';
import { FailedError, InvalidError, JinaDClient, JinaDError, NotFoundError, UnauthorizedError, UnreachableError, WorkspaceFailedError } from '../client/index.ts';
import { deploymentCommands } from './deployments.ts';
import { objectCommands } from './objects.ts';
import { type Cli, err, out, table } from './output.ts';
import { tokenCommands } from './tokens.ts';
import { workspaceCommands } from './workspaces.ts';

export const EXIT = { ok: 0, unexpected: 1, usage: 2, notFound: 3, invalid: 4, failed: 5, unreachable: 6, unauthorized: 7 } as const;

/** The exit code a command asks for without failing (`jinad plan` with changes pending). */
let requestedExit: number = 0;

export function program(): Command {
  const p = new Command('jinad')
    .description('Deploy and manage Jina Flows, Pods and Peas on a JinaD daemon')
    .option('--host <url>', 'the JinaD to talk to', process.env.JINAD_URL ?? 'http://127.0.0.1:8000')
    .option('--token <token>', 'API token (default: JINAD_TOKEN, else a local daemon’s admin.token)')
    .option('--cacert <file>', 'CA certificate to trust for an https:// daemon (default: JINAD_CACERT)')
    .option('--json', 'print JSON (for scripts)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const client = () => new JinaDClient(p.opts().host, { token: p.opts().token, cacert: p.opts().cacert });
  const json = () => Boolean(p.opts().json);
  const show = (value: unknown, human: () => string) => out(json() ? JSON.stringify(value, null, 2) : human());
  const cli: Cli = { client, json, show };

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

  workspaceCommands(p, cli);
  objectCommands(p, cli);
  tokenCommands(p, cli);
  deploymentCommands(p, cli, (code) => {
    requestedExit = code;
  });

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
  // `jinad serve …` takes the daemon's own flags (--host is where it listens, not a daemon to call).
  if (argv[0] === 'serve' && !argv.includes('--help') && !argv.includes('-h')) {
    const { serve } = await import('../serve.ts');
    await serve(argv.slice(1));
    await new Promise(() => {}); // until a signal ends the process
  }
  if (isLocalRuntime(argv)) {
    const { run } = await import('../runtime/cli.ts');
    await run(argv);
    return EXIT.ok;
  }
  try {
    requestedExit = EXIT.ok;
    await program().parseAsync(argv, { from: 'user' });
    return requestedExit;
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
    if (e instanceof UnauthorizedError) return EXIT.unauthorized;
    if (e instanceof JinaDError) return EXIT.failed;
    return EXIT.unexpected;
  }
}
