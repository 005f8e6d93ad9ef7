/**
 * Reading a deployments file (`jinad.deploy.yml`, or `deployments` in `jinad.config.ts`) and
 * resolving one deployment against the machine it is read on: its workspace folder (or list of
 * files) becomes file hashes, each Flow's YAML is read, `${{ ENV.X }}` in env values is replaced
 * from that machine's environment. The CLI does this before it calls a daemon; the daemon does
 * it for the deployments of its own config. A file that fails names the file, the key and why.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import YAML from 'yaml';
import { type Deployment, DeploymentsFile, type DesiredDeployment } from '../contract/deployments.ts';
import { ENV_EXPR } from '../runtime/config.ts';
import { importUserModule } from '../user-module.ts';

export class DeploymentFileError extends Error {}

/** Folders never sent as part of a workspace. */
const SKIPPED = new Set(['node_modules', '.git']);
const MAX_FILES = 2000;

/** Validate a parsed file; errors name the file, the key's path and the reason. */
export function checkDeployments(raw: unknown, file: string): Record<string, Deployment> {
  const result = v.safeParse(DeploymentsFile, raw);
  if (!result.success) {
    const msgs = result.issues.map((i) => `${v.getDotPath(i) ?? '(top level)'}: ${i.message}`);
    throw new DeploymentFileError(`${file}: ${msgs.join('; ')}`);
  }
  return result.output.deployments;
}

/** Load `jinad.deploy.yml` (YAML or JSON) or a config module (`jinad.config.ts`) exporting `deployments`. */
export async function loadDeploymentsFile(file: string): Promise<Record<string, Deployment>> {
  let raw: unknown;
  if (/\.(c|m)?(t|j)s$/.test(file)) {
    try {
      const mod = await importUserModule(path.resolve(file));
      raw = { deployments: (mod.default ?? mod).deployments ?? {} };
    } catch (err) {
      throw new DeploymentFileError(`${file}: cannot load it: ${(err as Error).message}`);
    }
  } else {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new DeploymentFileError(`${file}: cannot read it: ${(err as Error).message}`);
    }
    try {
      raw = YAML.parse(text, { maxAliasCount: 100 });
    } catch (err) {
      throw new DeploymentFileError(`${file}: not valid YAML: ${(err as Error).message}`);
    }
  }
  return checkDeployments(raw, file);
}

const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

/** Regular files under `dir`, as workspace paths (posix) → absolute paths. Links are refused: a deployment ships files, not pointers. */
function walk(dir: string, where: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (abs: string, rel: string) => {
    for (const entry of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (SKIPPED.has(entry.name)) continue;
      const childAbs = path.join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) throw new DeploymentFileError(`${where}: ${childRel} is a symbolic link; a workspace holds regular files only`);
      if (entry.isDirectory()) visit(childAbs, childRel);
      else if (entry.isFile()) out.set(childRel, childAbs);
      if (out.size > MAX_FILES) throw new DeploymentFileError(`${where}: more than ${MAX_FILES} files`);
    }
  };
  visit(dir, '');
  return out;
}

/** Replace `${{ ENV.X }}` from `env`; a reference to an unset variable is an error naming the key. */
function substitute(value: string | number | boolean, env: Record<string, string | undefined>, where: string): string {
  return String(value).replace(ENV_EXPR, (_, name: string) => {
    const found = env[name];
    if (found === undefined) throw new DeploymentFileError(`${where}: references \${{ ENV.${name} }}, which is not set`);
    return found;
  });
}

export interface ResolvedDeployment {
  desired: DesiredDeployment;
  /** Workspace path → where its content is on this machine. */
  paths: Map<string, string>;
}

/** Resolve a declared deployment on this machine (`baseDir`: the folder of the file that declares it). */
export function resolveDeployment(name: string, dep: Deployment, baseDir: string, env: Record<string, string | undefined>, file = 'deployments'): ResolvedDeployment {
  const where = `${file}: deployments.${name}`;
  let paths: Map<string, string>;
  try {
    if (typeof dep.workspace === 'string') {
      const dir = path.resolve(baseDir, dep.workspace);
      if (!lstatSync(dir).isDirectory()) throw new DeploymentFileError(`${where}.workspace: ${dep.workspace} is not a folder`);
      paths = walk(dir, `${where}.workspace`);
    } else {
      paths = new Map();
      for (const f of dep.workspace) {
        const abs = path.resolve(baseDir, f);
        const rel = path.relative(baseDir, abs).split(path.sep).join('/');
        if (rel.startsWith('../') || path.isAbsolute(rel)) throw new DeploymentFileError(`${where}.workspace: ${f} is outside the folder of the file`);
        if (!lstatSync(abs).isFile()) throw new DeploymentFileError(`${where}.workspace: ${f} is not a regular file`);
        paths.set(rel, abs);
      }
    }
  } catch (err) {
    if (err instanceof DeploymentFileError) throw err;
    throw new DeploymentFileError(`${where}.workspace: ${(err as Error).message}`);
  }
  if (paths.size === 0) throw new DeploymentFileError(`${where}.workspace: no files`);
  const files = Object.fromEntries([...paths].map(([rel, abs]) => [rel, sha256(readFileSync(abs))]));
  const envsOf = (envs: Record<string, string | number | boolean> | undefined, at: string) =>
    Object.fromEntries(Object.entries(envs ?? {}).map(([k, val]) => [k, substitute(val, env, `${at}.envs.${k}`)]));
  const sources: Record<string, string> = {};
  const flows: DesiredDeployment['flows'] = {};
  for (const [member, flow] of Object.entries(dep.flows ?? {})) {
    const at = `${where}.flows.${member}`;
    const rel = path.posix.normalize(flow.file);
    const abs = paths.get(rel);
    if (!abs) throw new DeploymentFileError(`${at}.file: ${flow.file} is not one of the workspace's files`);
    sources[rel] = readFileSync(abs, 'utf8');
    flows[member] = { ...flow, file: rel, envs: envsOf(flow.envs, at) };
  }
  const pods = (kind: 'pods' | 'peas') =>
    Object.fromEntries(Object.entries(dep[kind] ?? {}).map(([member, args]) => [member, { ...args, envs: envsOf(args.envs as Record<string, string>, `${where}.${kind}.${member}`) }]));
  return { desired: { files, sources, flows, pods: pods('pods'), peas: pods('peas') }, paths };
}
