import { z } from 'zod';

/** A configuration error names every variable that is wrong, so one start-up reports them all. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates `env` once, at boot, against a zod object whose keys are environment variable names.
 * Empty strings count as unset, so `FOO= npm start` falls back to the default.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.join('.');
      const received = present[name];
      return `${name}: ${issue.message}${received === undefined ? '' : ` (got "${String(received).slice(0, 60)}")`}`;
    }),
  );
}

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d{1,9})(ms|s|m|h|d)?$/;

/** `30s`, `5m`, `1h`, `90d`, `250ms`, or a bare number of milliseconds; undefined if malformed. */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 'ms') as keyof typeof DURATION_UNITS_MS];
}

/** A zod field for a duration such as `90d`, in milliseconds. */
export function durationField() {
  return z
    .string()
    .refine((text) => parseDurationMs(text) !== undefined, 'expected a duration such as 30s, 5m, 1h or 90d')
    .transform((text) => parseDurationMs(text) as number);
}

/** Reusable field builders for environment variables. */
export const envField = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  duration: (fallback: string) => durationField().default(parseDurationMs(fallback) as number),
};
