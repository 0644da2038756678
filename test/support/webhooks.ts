import { Webhook } from 'standardwebhooks';
import { type ApiSession, type ReceivedWebhook } from '@ioc/testing';

/** The receiver lives in @ioc/testing (the benchmarks use it too). */
export { type ReceivedWebhook, WebhookReceiver } from '@ioc/testing';

/**
 * Verifies a request with the `standardwebhooks` package and the endpoint's secret (`whsec_…`).
 * @throws WebhookVerificationError when the signature or timestamp does not verify
 */
export function verifyWebhook(secret: string, request: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(request.raw, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  });
}

/** A JSON request as `session`: the status and the parsed body (null for an empty one). */
export async function call(
  session: ApiSession,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await session.fetch(path, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** `call`, failing with the answer when the status is not `expected`. */
export async function expectCall(
  session: ApiSession,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body: unknown,
  expected: number,
): Promise<Record<string, unknown>> {
  const answer = await call(session, method, path, body);
  if (answer.status !== expected)
    throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}
