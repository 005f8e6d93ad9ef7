/** A small leveled logger writing one line per record to stderr. */
export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string, err?: unknown): void;
  error(msg: string, err?: unknown): void;
  child(name: string): Logger;
}

export function createLogger(level: Level, name = 'jinad'): Logger {
  const emit = (l: Level, msg: string, err?: unknown) => {
    if (ORDER[l] < ORDER[level]) return;
    const cause = err ? ` — ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` : '';
    process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} [${name}] ${msg}${cause}\n`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m, e) => emit('warn', m, e),
    error: (m, e) => emit('error', m, e),
    child: (n) => createLogger(level, `${name}:${n}`),
  };
}
