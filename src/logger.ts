// The one way to make a logger: pino, structured, object first and message second.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    level: opts.level ?? process.env.DIALBACK_LOG_LEVEL ?? 'info',
    name: opts.name ?? 'dialback',
  });
}

/** A logger that drops everything: the default in tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
