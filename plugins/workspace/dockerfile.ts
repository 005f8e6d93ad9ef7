/**
 * The Dockerfile generated for a workspace, and what never goes into its build.
 * npm dependencies are installed in their own layer before the rest of the files are copied,
 * so an unchanged package.json (and lockfile) rebuilds from cache. They live in
 * /opt/jinad/deps and are linked into /node_modules, where Node's resolution finds them from
 * /workspace even though the workspace directory is mounted over /workspace at run time.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readInside } from 'jinad/plugin';

/** Files and folders never sent to the build. */
const EXCLUDED = [/^logs(\/|$)/, /^logging\.log$/, /^node_modules(\/|$)/, /^\.git(\/|$)/];
export const excludedFromBuild = (rel: string) => EXCLUDED.some((r) => r.test(rel));
const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json'];
export const REQUIREMENTS = /requirements.*\.txt$/;

export function requirementFiles(workdir: string): string[] {
  return readdirSync(workdir).filter((f) => REQUIREMENTS.test(f)).sort();
}

/** What JinaD 2.0 shows as `arguments.requirements`: every requirements file's lines, space-separated (comments and blank lines left out). */
export function requirementsOf(workdir: string): string {
  return requirementFiles(workdir)
    .flatMap((f) => readInside(workdir, f, { maxBytes: 1024 * 1024 }).split('\n'))
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .join(' ');
}

export function generateDockerfile(workdir: string, baseImage: string): string {
  const lines = [`FROM ${baseImage}`];
  if (existsSync(path.join(workdir, 'package.json'))) {
    const lock = LOCKFILES.filter((f) => existsSync(path.join(workdir, f)));
    lines.push(
      'WORKDIR /opt/jinad/deps',
      `COPY ${['package.json', ...lock].join(' ')} ./`,
      `RUN ${lock.length ? 'npm ci' : 'npm install'} --omit=dev --no-audit --no-fund \\`,
      ' && for p in /opt/jinad/deps/node_modules/*; do [ -e "$p" ] && ln -sfn "$p" /node_modules/; done; true',
    );
  }
  const reqs = requirementFiles(workdir);
  if (reqs.length) {
    lines.push(
      `COPY ${reqs.join(' ')} /opt/jinad/requirements/`,
      `RUN command -v pip3 >/dev/null 2>&1 || { echo "jinad: ${reqs.join(', ')} needs pip, and this base image has no Python. Use a custom Dockerfile (.jinad: dockerfile = …) built FROM an image with Python, or configure a base image that has it." >&2; exit 3; } \\`,
      ' && for r in /opt/jinad/requirements/*; do pip3 install --no-cache-dir -r "$r" || exit 1; done',
    );
  }
  lines.push('WORKDIR /workspace', 'COPY . /workspace/', '');
  return lines.join('\n');
}
