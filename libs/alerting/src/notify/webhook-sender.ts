import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { type DestinationGuard, WebhookDestinationError } from './destination-guard';
import { signWebhook } from './webhook-secrets';

/**
 * Standard Webhooks' recommended request timeout is "between 15 and 30s" (spec, "Request
 * timeouts"): 15 s by default (IOC_WEBHOOK_TIMEOUT_MS).
 */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;
/** At most this much of a receiver's answer is read (and kept, 200 characters, as the error). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** One webhook request: the notification's id and exact body, and the endpoint's URL and secret. */
export interface WebhookRequest {
  url: string;
  secret: string;
  /** `webhook-id` (`msg_…`): the same on every retry and replay. */
  id: string;
  /** The body as stored: sent and signed byte for byte. */
  body: string;
  /** Epoch ms of this attempt: `webhook-timestamp` is its whole seconds. */
  now: number;
  timeoutMs?: number;
}

/** What an attempt came to. `status` null: no HTTP answer (refused, unreachable, timed out). */
export interface WebhookOutcome {
  status: number | null;
  error: string | null;
  latencyMs: number;
  /** Seconds of a `Retry-After` header (delta-seconds form), when the answer had one. */
  retryAfterSeconds?: number;
  /**
   * The destination itself was refused by policy (SSRF guard: a private address; a malformed URL):
   * no request was made, and retrying cannot help, so the outbox fails the delivery at once. A host
   * that does not resolve is not a refusal (DNS may answer later): it is retried.
   */
  refused?: boolean;
}

/**
 * Sends one Standard Webhooks request: `POST` with `content-type: application/json`,
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,…`, signWebhook).
 * The destination is checked by `guard` first and the socket connects to the checked address
 * (its own lookup), with the URL's host name kept for the Host header and TLS (SNI, certificate).
 * Redirects are not followed (a 3xx is the answer: a failure per the spec, "Delivery success and
 * failure"). The whole exchange is bounded by `timeoutMs`; never throws.
 */
export async function sendWebhook(request: WebhookRequest, guard: DestinationGuard): Promise<WebhookOutcome> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  let destination;
  try {
    destination = await guard.check(request.url);
  } catch (error) {
    if (error instanceof WebhookDestinationError && error.code === 'unresolvable') {
      return { status: null, error: error.message, latencyMs: elapsed() };
    }
    return {
      status: null,
      error: `refused: ${(error as Error).message}`,
      latencyMs: elapsed(),
      refused: true,
    };
  }
  const timestamp = Math.floor(request.now / 1000);
  const body = Buffer.from(request.body, 'utf8');
  const { url, address, family } = destination;
  const pinned: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address, family },
      ]);
    } else {
      callback(null, address, family);
    }
  };
  const transport = url.protocol === 'https:' ? https : http;
  const timeoutMs = request.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  return new Promise<WebhookOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: WebhookOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = transport.request(
      url,
      {
        method: 'POST',
        lookup: pinned,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': 'ioc-platform-webhooks/1',
          'webhook-id': request.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(request.secret, request.id, timestamp, request.body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (error) => finish({ status: null, error: error.message, latencyMs: elapsed() }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const retryAfter = Number(res.headers['retry-after']);
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 200);
          finish({
            status,
            error: ok
              ? null
              : status >= 300 && status < 400
                ? `HTTP ${status} (redirects are not followed${res.headers.location ? `: ${String(res.headers.location).slice(0, 200)}` : ''})`
                : `HTTP ${status}${text ? `: ${text}` : ''}`,
            latencyMs: elapsed(),
            ...(Number.isInteger(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
          });
        });
      },
    );
    const timer = setTimeout(() => {
      finish({ status: null, error: `timed out after ${timeoutMs} ms`, latencyMs: elapsed() });
      req.destroy(new Error('timed out'));
    }, timeoutMs);
    req.on('error', (error) => finish({ status: null, error: error.message, latencyMs: elapsed() }));
    req.end(body);
  });
}
