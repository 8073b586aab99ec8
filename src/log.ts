/**
 * A tiny leveled logger writing to stderr. The level comes from TSVISOR_LOG
 * (error|warn|info|debug); the default is warn so a guest console on stdout
 * stays clean.
 */
export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
type Level = keyof typeof LEVELS;

function levelFromEnv(): number {
  const name = (process.env.TSVISOR_LOG ?? 'warn') as Level;
  return LEVELS[name] ?? LEVELS.warn;
}

export function createLogger(prefix: string, sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const threshold = levelFromEnv();
  const at = (level: Level) => (msg: string) => {
    if (LEVELS[level] <= threshold) sink(`tsvisor: ${prefix}${level}: ${msg}`);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export const defaultLogger: Logger = createLogger('');

/** A logger that records lines, for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (msg: string) => { lines.push(`${level}: ${msg}`); };
  return { lines, error: push('error'), warn: push('warn'), info: push('info'), debug: push('debug') };
}
