/** `jinad token …` and `jinad audit`: tokens and the audit trail (an admin token is needed). */
import type { Command } from 'commander';
import { InvalidError } from '../client/index.ts';
import { SCOPES, type Scope } from '../contract/auth.ts';
import { type Cli, err, out, table } from './output.ts';

export function tokenCommands(p: Command, { client, json, show }: Cli): void {
  const token = p.command('token').description('API tokens: read, write or admin, optionally expiring');
  token
    .command('create')
    .description('make a token; it is printed once, keep it')
    .requiredOption('--name <name>', 'what it is for (ci, grafana, …)')
    .option('--scope <scope>', `${SCOPES.join(' | ')}`, 'read')
    .option('--expires <when>', 'a duration (30d, 12h) or an ISO time; default: never')
    .action(async (o) => {
      if (!SCOPES.includes(o.scope)) throw new InvalidError(`--scope: '${o.scope}' is not one of ${SCOPES.join(', ')}`);
      const made = await client().tokens.create(o.name, o.scope as Scope, o.expires);
      if (json()) {
        out(JSON.stringify(made, null, 2));
        return;
      }
      out(made.token);
      err(`token '${made.name}' (${made.scope}${made.expires ? `, expires ${made.expires}` : ''}): shown only now; send it as JINAD_TOKEN or --token`);
    });
  token
    .command('ls')
    .description('every token (never its text)')
    .action(async () => {
      const list = await client().tokens.list();
      show(list, () => table([['NAME', 'SCOPE', 'CREATED', 'EXPIRES'], ...list.map((t) => [t.name, t.scope, t.created, t.expires ?? 'never'])]));
    });
  token
    .command('rm')
    .description('remove a token: it is refused from now on')
    .argument('<name>')
    .action(async (name: string) => {
      await client().tokens.remove(name);
      show({ name }, () => `removed ${name}`);
    });

  p.command('audit')
    .description('mutating calls, newest first: time, token, address, method, path, status')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--before <seq>', 'only records older than this sequence number')
    .action(async (o) => {
      const rows = await client().audit({ limit: Number(o.limit), before: o.before === undefined ? undefined : Number(o.before) });
      show(rows, () => table([['SEQ', 'TIME', 'TOKEN', 'ADDRESS', 'CALL', 'STATUS'], ...rows.map((r) => [String(r.seq), r.time, r.token ?? '-', r.address, `${r.method} ${r.path}`, String(r.status)])]));
    });
}
