/**
 * `jinad plan`, `jinad apply` and `jinad deployment ls|get|rm`: a deployments file
 * (jinad.deploy.yml, or the `deployments` of a jinad.config.ts) made true on a daemon.
 * `plan` exits 0 when nothing would change and 8 when changes are pending (as
 * `terraform plan -detailed-exitcode` tells them apart), so scripts can test for drift.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { InvalidError, type Plan } from '../client/index.ts';
import type { Change } from '../contract/deployments.ts';
import { DeploymentFileError, loadDeploymentsFile, type ResolvedDeployment, resolveDeployment } from '../deploy/source.ts';
import { type Cli, err, out, table } from './output.ts';

/** Exit code of `jinad plan` (and `apply` without --yes in a script) when changes are pending. */
export const CHANGES_PENDING = 8;
const DEFAULT_FILES = ['jinad.deploy.yml', 'jinad.deploy.yaml', 'jinad.config.ts'];
const SYMBOL: Record<Change['action'], string> = { create: '+', update: '~', replace: '-/+', delete: '-', unchanged: '=', orphan: '!' };

/** The file's deployments, each resolved on this machine (folders hashed, envs substituted). */
async function resolveFile(file: string | undefined, only: string | undefined): Promise<{ name: string; resolved: ResolvedDeployment }[]> {
  const chosen = file ?? DEFAULT_FILES.find((f) => existsSync(f));
  if (!chosen) throw new InvalidError(`no deployments file: give one with -f, or make ${DEFAULT_FILES[0]}`);
  try {
    const declared = await loadDeploymentsFile(chosen);
    const names = Object.keys(declared).filter((n) => !only || n === only);
    if (!names.length) throw new InvalidError(only ? `${chosen} declares no deployment '${only}'` : `${chosen} declares no deployments`);
    return names.map((name) => ({ name, resolved: resolveDeployment(name, declared[name]!, path.dirname(path.resolve(chosen)), process.env, chosen) }));
  } catch (e) {
    if (e instanceof DeploymentFileError) throw new InvalidError(e.message);
    throw e;
  }
}

function describePlan(plan: Plan): string {
  const lines = [`deployment ${plan.name}${plan.workspace_id ? ` (${plan.workspace_id})` : ''}`];
  for (const c of plan.changes) lines.push(`  ${SYMBOL[c.action].padEnd(3)} ${c.target}${c.details.length ? `: ${c.details.join('; ')}` : ''}`);
  if (plan.upload.length) lines.push(`  files to upload: ${plan.upload.length}`);
  return lines.join('\n');
}

function summary(plans: Plan[]): string {
  const count = (a: Change['action']) => plans.flatMap((p) => p.changes).filter((c) => c.action === a).length;
  if (!plans.some((p) => p.pending)) return 'No changes: the daemon runs what the file declares.';
  return `Plan: ${count('create')} to create, ${count('update')} to update, ${count('replace')} to replace, ${count('delete')} to delete.`;
}

export function deploymentCommands(p: Command, { client, json }: Cli, setExit: (code: number) => void): void {
  p.command('plan')
    .description(`what apply would change (exit 0: nothing, ${CHANGES_PENDING}: changes pending)`)
    .option('-f, --file <file>', `the deployments file (default: ${DEFAULT_FILES.join(', then ')})`)
    .option('--name <deployment>', 'only this deployment of the file')
    .option('--prune', 'also delete what an earlier apply made that the file no longer declares')
    .action(async (o) => {
      const plans: Plan[] = [];
      for (const { name, resolved } of await resolveFile(o.file, o.name)) plans.push(await client().deployments.plan(name, resolved.desired, Boolean(o.prune)));
      out(json() ? JSON.stringify(plans, null, 2) : `${plans.map(describePlan).join('\n')}\n\n${summary(plans)}`);
      if (plans.some((pl) => pl.pending)) setExit(CHANGES_PENDING);
    });

  p.command('apply')
    .description('make the daemon run what the file declares (uploads only changed files)')
    .option('-f, --file <file>', `the deployments file (default: ${DEFAULT_FILES.join(', then ')})`)
    .option('--name <deployment>', 'only this deployment of the file')
    .option('--prune', 'delete what an earlier apply made that the file no longer declares')
    .option('-y, --yes', 'do not ask before changing anything')
    .action(async (o) => {
      const resolved = await resolveFile(o.file, o.name);
      const plans: Plan[] = [];
      for (const { name, resolved: r } of resolved) plans.push(await client().deployments.plan(name, r.desired, Boolean(o.prune)));
      if (!json()) err(`${plans.map(describePlan).join('\n')}\n\n${summary(plans)}`);
      if (!plans.some((pl) => pl.pending)) {
        if (json()) out(JSON.stringify(plans, null, 2));
        return;
      }
      if (!o.yes) {
        if (!process.stdin.isTTY) throw new InvalidError('changes are pending and this is not a terminal: pass --yes to apply them');
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question('Apply these changes? [y/N] ');
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          err('Nothing was changed.');
          setExit(CHANGES_PENDING);
          return;
        }
      }
      const applied: Plan[] = [];
      for (const { name, resolved: r } of resolved) {
        applied.push(
          await client().deployments.apply(name, r, {
            prune: Boolean(o.prune),
            onProgress: (pr) => {
              if (pr.status === 'started') err(`${name}: ${SYMBOL[pr.action as Change['action']] ?? pr.action} ${pr.target} …`);
              else err(`${name}: ${SYMBOL[pr.action as Change['action']] ?? pr.action} ${pr.target} ${pr.status}${pr.id ? ` (${pr.id})` : ''}${pr.message ? `: ${pr.message}` : ''}`);
            },
          }),
        );
      }
      if (json()) out(JSON.stringify(applied, null, 2));
      else err('Applied.');
    });

  const dep = p.command('deployment').description('deployments the daemon runs');
  dep
    .command('ls')
    .description('every deployment: its workspace, members and drift')
    .action(async () => {
      const all = await client().deployments.list();
      if (json()) return void out(JSON.stringify(all, null, 2));
      out(
        table([
          ['NAME', 'SOURCE', 'WORKSPACE', 'MEMBERS', 'DRIFTED', 'LAST ERROR'],
          ...Object.values(all).map((d) => [d.name, d.source, d.workspace.state, String(Object.keys(d.members).length), d.drifted ? 'yes' : 'no', d.last_error ?? '-']),
        ]),
      );
    });
  dep
    .command('get')
    .argument('<name>')
    .description("one deployment's members: desired and actual state, restarts, last exit")
    .action(async (name: string) => {
      const d = await client().deployments.get(name);
      if (json()) return void out(JSON.stringify(d, null, 2));
      out(`${d.name} (${d.source}): workspace ${d.workspace_id} ${d.workspace.state}${d.last_error ? `\nlast error: ${d.last_error}` : ''}`);
      out(table([['MEMBER', 'ID', 'ACTUAL', 'DRIFTED', 'RESTART', 'RESTARTS'], ...Object.entries(d.members).map(([t, m]) => [t, m.id, m.actual, m.drifted ? 'yes' : 'no', m.restart ?? '-', String(m.restarts)])]));
    });
  dep
    .command('rm')
    .argument('<name>')
    .description('delete a deployment: its objects and its workspace')
    .action(async (name: string) => {
      await client().deployments.remove(name);
      err(`deployment ${name} deleted`);
    });
}
