/** What every `jinad` command shares: printing (tables or JSON), and reading its arguments. */
import type { JinaDClient } from '../client/index.ts';
import { InvalidError } from '../client/index.ts';
import { parseEnvs } from '../runtime/config.ts';

/** What a command group is given: the client of the daemon named by --host, and how to print. */
export interface Cli {
  client(): JinaDClient;
  json(): boolean;
  /** Print `value` as JSON with --json, else `human()`. */
  show(value: unknown, human: () => string): void;
}

export const out = (s: string) => process.stdout.write(`${s}\n`);
export const err = (s: string) => process.stderr.write(`${s}\n`);

export function table(rows: string[][]): string {
  if (rows.length === 1) return `${rows[0]!.join('  ')}\n(none)`;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

export function envsOf(list: string[] = []): Record<string, string> {
  try {
    return parseEnvs(list);
  } catch (e) {
    throw new InvalidError((e as Error).message);
  }
}

export function jsonArg(text: string | undefined, what: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  } catch {
    // fall through
  }
  throw new InvalidError(`${what} must be a JSON object, e.g. '{"key": "value"}'`);
}

