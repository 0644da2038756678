import { randomBytes } from 'node:crypto';

/** What went wrong with a notifier write, for REST's 400/404/409. */
export type NotifyErrorCode = 'invalid' | 'not-found' | 'conflict';

/** A refused write on webhook endpoints, subscriptions or deliveries (400 / 404 / 409). */
export class NotifyError extends Error {
  constructor(
    readonly code: NotifyErrorCode,
    message: string,
    /** The field at fault, when one is (`url`, `webhookEndpointIds`, …). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'NotifyError';
  }
}

/** The time source of the notifier's repositories and policy (tests move it). */
export interface NotifyClock {
  now(): number;
}

export const SYSTEM_CLOCK: NotifyClock = { now: () => Date.now() };

/**
 * A random id with a prefix: `msg_` + 22 base64url characters (128 bits) — the shape of Standard
 * Webhooks' example ids (`msg_2KWPBgLlAfxdpx2AI54pPJ85f4W`), with no `.` (the signed content is
 * `{id}.{timestamp}.{body}`, so an id must not hold one: spec, "Signature scheme").
 */
export function newId(prefix: 'msg' | 'whe' | 'sub'): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}

/** Epoch ms → ISO 8601, null kept. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
