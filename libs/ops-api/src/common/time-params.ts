import { z } from 'zod';

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30s`, `5m`, `1h`, `1d`, `250ms`, or a bare number of milliseconds. */
export const durationParam = z
  .string()
  .regex(/^\d{1,9}(ms|s|m|h|d)?$/, 'expected a duration such as 30s, 5m, 1h or 1d')
  .transform((value) => {
    const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value) as RegExpExecArray;
    return Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 'ms') as keyof typeof DURATION_UNITS_MS];
  })
  .refine((ms) => ms >= 1000, 'the shortest window is 1s');

/** ISO-8601 with an offset, or epoch milliseconds. */
export const instantParam = z
  .string()
  .max(40)
  .transform((value, ctx) => {
    const ms = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value);
    if (!/^\d{1,15}$/.test(value) && !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected ISO-8601 (with Z or an offset) or epoch milliseconds',
      });
      return z.NEVER;
    }
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'not a valid date' });
      return z.NEVER;
    }
    return ms;
  });
