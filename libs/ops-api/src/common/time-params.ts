import { z } from 'zod';
import { durationField } from '@ioc/runtime';

/** `30s`, `5m`, `1h`, `1d`, `250ms`, or a bare number of milliseconds; at least 1 s. */
export const durationParam = durationField().refine((ms) => ms >= 1000, 'the shortest window is 1s');

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
