/**
 * Resource limits of a container: memory (`512m`, `2g`, or bytes), CPUs (`1.5`) and processes
 * (`256`). Given daemon-wide (config), per workspace (`.jinad`) and per object (create
 * arguments); the most specific wins, key by key.
 */
import * as v from 'valibot';

export interface Resources {
  /** Bytes. */
  memory?: number;
  cpus?: number;
  pids?: number;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
/** The smallest memory limit the Docker Engine takes. */
export const MIN_MEMORY = 6 * 1024 ** 2;

/** `512m`, `1.5g`, `2GiB`, `1048576` → bytes; undefined when it is not a size. */
export function parseMemory(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text > 0 ? text : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  return bytes > 0 ? bytes : undefined;
}

/** Why a value is not a limit of `key`, or undefined when it is one. */
export function resourceProblem(key: keyof Resources, value: number | undefined): string | undefined {
  if (value === undefined || !Number.isFinite(value)) return key === 'memory' ? "expected a size like '512m' or '2g'" : 'expected a number';
  if (key === 'memory' && value < MIN_MEMORY) return 'at least 6m (the least the Docker Engine allows)';
  if (key === 'cpus' && !(value > 0 && value <= 1024)) return 'expected a number of CPUs above 0, like 0.5 or 2';
  if (key === 'pids' && !(Number.isInteger(value) && value >= 16 && value <= 4_194_304)) return 'expected a whole number of processes, at least 16';
  return undefined;
}

/** Parse one limit as a person writes it (`.jinad`, query strings): the number, or a problem. */
export function parseResource(key: keyof Resources, raw: string | number): { value: number } | { problem: string } {
  const value = key === 'memory' ? parseMemory(raw) : typeof raw === 'number' ? raw : /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : undefined;
  const problem = resourceProblem(key, value);
  return problem ? { problem } : { value: value! };
}

const field = (key: keyof Resources) =>
  v.optional(
    v.nullable(
      v.pipe(
        v.union([v.string(), v.number()]),
        v.rawTransform(({ dataset, addIssue, NEVER }) => {
          const r = parseResource(key, dataset.value);
          if ('problem' in r) {
            addIssue({ message: `${key}: ${r.problem}` });
            return NEVER;
          }
          return r.value;
        }),
      ),
    ),
  );

/** `memory`, `cpus`, `pids` as create arguments (query or body); `null` means unset. */
export const ResourceFields = { memory: field('memory'), cpus: field('cpus'), pids: field('pids') };

/** Layers from the most specific: the first value given for each key wins. */
export function mergeResources(...layers: (Partial<Record<keyof Resources, number | null>> | undefined)[]): Resources {
  const out: Resources = {};
  for (const key of ['memory', 'cpus', 'pids'] as const) {
    for (const layer of layers) {
      const value = layer?.[key];
      if (value !== undefined && value !== null) {
        out[key] = value;
        break;
      }
    }
  }
  return out;
}
