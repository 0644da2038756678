import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Extra fields carried by every line (service name, node id, …). */
  base?: Record<string, unknown>;
}

/**
 * Structured JSON logs (one object a line) so operators can filter by device id, client id,
 * topic or request id; pipe through `pino-pretty` to read them by eye.
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { service, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
