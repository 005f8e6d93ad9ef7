/**
 * `.jinad`: INI without a section header (reference §4.3), validated key by key.
 * An invalid value is an error naming the key; an unknown key is a warning.
 */
import ini from 'ini';
import { JINA_COMPAT, parseConstraints, parseResource, parseRestart, type Resources, type RestartPolicy } from 'jinad/plugin';

export interface JinadFile {
  /** A Dockerfile in the workspace (relative path), or undefined for the generated one. */
  dockerfile?: string;
  /** Ports the `run` container publishes on the host, same number inside and out. */
  ports: number[];
  /** Command of the workspace's own container. */
  run?: string;
  /** What the engine does when the `run` command exits (default: no). */
  restart?: RestartPolicy;
  /** Jina version the workspace expects. */
  jina?: string;
  gpus?: { count?: number; deviceIds?: string[] };
  /** Limits of the workspace's containers (memory in bytes), unless an object's arguments set its own. */
  memory?: number;
  cpus?: number;
  pids?: number;
  /** Accepted for compatibility with JinaD 2.0; no effect. */
  build?: string;
  python?: string;
  /** Where its objects may run on a Swarm (`node.labels.gpu==true, node.role==worker`). */
  constraints?: string[];
}

export class JinadFileError extends Error {
  constructor(readonly key: string, message: string) {
    super(`.jinad: invalid value for '${key}': ${message}`);
  }
}

const KNOWN = new Set(['dockerfile', 'ports', 'run', 'restart', 'jina', 'gpus', 'memory', 'cpus', 'pids', 'build', 'python', 'constraints']);
const GENERATED_DOCKERFILES = new Set(['default', 'devel', 'cpu']);

function text(key: string, raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new JinadFileError(key, 'expected a value, e.g. `' + key + ' = …`');
  return raw.trim();
}

export function parseJinadFile(source: string): { file: JinadFile; given: Record<string, string>; warnings: string[] } {
  const parsed = ini.parse(source) as Record<string, unknown>;
  // The keys as written, each as its text (a section header's keys are not `.jinad` keys).
  const given = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v === null || typeof v !== 'object').map(([k, v]) => [k.trim(), String(v ?? '')]));
  const file: JinadFile = { ports: [] };
  const warnings: string[] = [];
  for (const [rawKey, raw] of Object.entries(parsed)) {
    const key = rawKey.trim().toLowerCase();
    if (raw !== null && typeof raw === 'object') {
      warnings.push(`.jinad: section [${rawKey}] is ignored; write keys without a section header`);
      continue;
    }
    if (!KNOWN.has(key)) {
      warnings.push(`.jinad: unknown key '${rawKey}' is ignored (known: ${[...KNOWN].join(', ')})`);
      continue;
    }
    switch (key) {
      case 'dockerfile': {
        const v = text(key, raw);
        if (GENERATED_DOCKERFILES.has(v)) break;
        if (v === 'gpu') throw new JinadFileError(key, "'gpu' has no built-in Dockerfile here; name your own Dockerfile and use `gpus = all`");
        if (v.startsWith('/') || v.split(/[\\/]/).includes('..')) throw new JinadFileError(key, `'${v}' must be a path inside the workspace`);
        file.dockerfile = v;
        break;
      }
      case 'ports': {
        if (typeof raw !== 'string') throw new JinadFileError(key, 'expected comma-separated port numbers, e.g. `ports = 8080, 9090`');
        for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
          const n = Number(item);
          if (!/^\d+$/.test(item) || n < 1 || n > 65535) throw new JinadFileError(key, `'${item}' is not a port number (1-65535)`);
          if (!file.ports.includes(n)) file.ports.push(n);
        }
        break;
      }
      case 'run':
        file.run = text(key, raw).replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
        break;
      case 'restart':
        try {
          file.restart = parseRestart(text(key, raw));
        } catch (err) {
          throw new JinadFileError(key, (err as Error).message);
        }
        break;
      case 'jina': {
        const v = text(key, raw);
        if (v !== 'latest' && v !== 'master') {
          const m = /^v?(\d+)(\.\d+){0,3}([.-]?[0-9A-Za-z]+)*$/.exec(v);
          if (!m) throw new JinadFileError(key, `'${v}' is not a version, e.g. \`jina = 2.1.0\``);
          if (m[1] !== JINA_COMPAT) {
            throw new JinadFileError(key, `the workspace expects Jina ${v}, but this daemon's runtime implements the Jina ${JINA_COMPAT} API`);
          }
        }
        file.jina = v;
        break;
      }
      case 'gpus': {
        const v = text(key, raw).toLowerCase();
        if (v === 'all') file.gpus = { count: -1 };
        else if (/^\d+$/.test(v) && Number(v) > 0) file.gpus = { count: Number(v) };
        else if (/^(device=)?[\w-]+(,[\w-]+)*$/.test(v)) file.gpus = { deviceIds: v.replace(/^device=/, '').split(',') };
        else throw new JinadFileError(key, `'${v}' is not 'all', a count, or 'device=0,1'`);
        break;
      }
      case 'memory':
      case 'cpus':
      case 'pids': {
        const r = parseResource(key, text(key, raw));
        if ('problem' in r) throw new JinadFileError(key, r.problem);
        file[key] = r.value;
        break;
      }
      case 'build': {
        const v = text(key, raw);
        if (!['devel', 'default', 'cpu', 'gpu'].includes(v)) throw new JinadFileError(key, `'${v}' is not one of devel, default, cpu, gpu`);
        file.build = v;
        warnings.push(".jinad: 'build' is accepted for compatibility with JinaD 2.0 and has no effect here");
        break;
      }
      case 'constraints':
        try {
          file.constraints = parseConstraints(text(key, raw));
        } catch (err) {
          throw new JinadFileError(key, (err as Error).message);
        }
        break;
      case 'python': {
        const v = text(key, raw);
        if (!/^3(\.\d+)?$/.test(v)) throw new JinadFileError(key, `'${v}' is not a Python 3 version, e.g. 3.8`);
        file.python = v;
        break;
      }
    }
  }
  return { file, given, warnings };
}

/** The container limits a parsed `.jinad` sets. */
export function resourcesOf(jinad: Pick<JinadFile, 'memory' | 'cpus' | 'pids'>): Resources {
  const out: Resources = {};
  for (const key of ['memory', 'cpus', 'pids'] as const) if (typeof jinad[key] === 'number') out[key] = jinad[key];
  return out;
}

/** A stored workspace's parsed `.jinad` (rows made before `jinad_parsed` kept the parsed form as `jinad`). */
export function storedJinad(args: { jinad: Record<string, unknown>; jinad_parsed?: Record<string, unknown> } | null | undefined): JinadFile {
  return ((args?.jinad_parsed ?? args?.jinad ?? { ports: [] }) as unknown as JinadFile);
}
