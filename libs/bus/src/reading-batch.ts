import type { z } from 'zod';
import { type Reading, readingSchema } from '@ioc/contracts';

/** Why an internal message (or one reading in a batch) was dropped. */
export interface InvalidBusMessage {
  detail: string;
}

/** `path: message` of a zod error's first issue, e.g. `3.metrics.pm25: not a finite number`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.map(String).join('.') || 'payload'}: ${issue?.message ?? 'invalid'}`;
}

/**
 * One batch of readings relayed by the broker on `$internal/ioc/v1/readings`, decoded and
 * validated (`readingSchema`) on first use: with no live client listening, a service does not
 * parse the ~30 000 readings a second a busy broker relays. A reading that does not match the
 * schema is dropped and reported through `onInvalid` (with its index); the others are kept.
 */
export class ReadingBatch {
  private decoded: Reading[] | undefined;

  constructor(
    /** The message's payload: a JSON array of readings. */
    readonly json: Buffer,
    private readonly onInvalid: (problem: InvalidBusMessage) => void,
  ) {}

  get readings(): Reading[] {
    if (this.decoded === undefined) this.decoded = this.decode();
    return this.decoded;
  }

  private decode(): Reading[] {
    let body: unknown;
    try {
      body = JSON.parse(this.json.toString('utf8'));
    } catch (error) {
      this.onInvalid({ detail: `not JSON: ${(error as Error).message}` });
      return [];
    }
    if (!Array.isArray(body)) {
      this.onInvalid({ detail: 'not a JSON array of readings' });
      return [];
    }
    const readings: Reading[] = [];
    for (let i = 0; i < body.length; i++) {
      const parsed = readingSchema.safeParse(body[i]);
      if (parsed.success) readings.push(parsed.data);
      else this.onInvalid({ detail: `${i}.${firstIssue(parsed.error)}` });
    }
    return readings;
  }
}
