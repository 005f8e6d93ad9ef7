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

/** Where pip looks (the daemon's `pip` config): index URLs, find-links (URLs, or folders of the workspace), no index. */
export interface PipSources {
  indexUrl?: string;
  extraIndexUrl?: string;
  findLinks?: string[];
  noIndex?: boolean;
}

/** Whether a workspace brings Python: `.jinad` names a version, or it has requirements files. */
export const needsPython = (workdir: string, jinadPython?: string) => !!jinadPython || requirementFiles(workdir).length > 0;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The requirements layer: the requirements files (and the workspace folders pip finds wheels
 * in) copied alone, so the layer is rebuilt only when they change; pip installs each file, and a
 * failure ends the build naming the file and pip's own error (the package and why).
 */
function pipLines(workdir: string, reqs: string[], pip: PipSources): string[] {
  const lines = [`COPY ${reqs.join(' ')} /opt/jinad/requirements/`];
  const links: string[] = [];
  for (const [i, link] of (pip.findLinks ?? []).entries()) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(link) || path.isAbsolute(link)) links.push(link);
    else if (existsSync(path.join(workdir, link))) {
      lines.push(`COPY ${link} /opt/jinad/find-links/${i}/`);
      links.push(`/opt/jinad/find-links/${i}`);
    }
  }
  const env = [
    pip.indexUrl && `PIP_INDEX_URL=${quote(pip.indexUrl)}`,
    pip.extraIndexUrl && `PIP_EXTRA_INDEX_URL=${quote(pip.extraIndexUrl)}`,
    links.length && `PIP_FIND_LINKS=${quote(links.join(' '))}`,
    pip.noIndex && 'PIP_NO_INDEX=1',
  ].filter(Boolean);
  // `jina` (every Jina project names it) is the runtime's own package, already in the image: its
  // lines are left out, so pip never tries to fetch Jina itself.
  lines.push(
    `RUN ${env.length ? `export ${env.join(' ')}; ` : ''}for r in /opt/jinad/requirements/*; do \\`,
    // Beside the original (a dot file the loop does not see), so the paths it names resolve as before.
    `   f="/opt/jinad/requirements/.without-jina-$(basename "$r")"; grep -viE '^[[:space:]]*jina[[:space:]]*([<>=!~;[]|$)' "$r" > "$f"; \\`,
    '   out=$(pip3 install -r "$f" 2>&1); code=$?; echo "$out"; \\',
    '   if [ $code -ne 0 ]; then echo "jinad: pip could not install what $(basename "$r") asks for: $(echo "$out" | grep -E "^ERROR" | head -2 | tr "\\n" " ")" >&2; exit 1; fi; \\',
    ' done',
  );
  return lines;
}

export function generateDockerfile(workdir: string, baseImage: string, pip: PipSources = {}): string {
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
  if (reqs.length) lines.push(...pipLines(workdir, reqs, pip));
  // Owned by the objects' user (uid 10001, `jinad` in the base image): where no work directory is
  // mounted over /workspace (the Swarm backend runs tasks from the image's own copy), it is writable.
  lines.push('WORKDIR /workspace', 'COPY --chown=10001:10001 . /workspace/', '');
  return lines.join('\n');
}
