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

/** What `pm25AlertToWebhook` creates. */
export interface Pm25AlertWebhook {
  agency: string;
  ruleId: string;
  /** The webhook endpoint as the API answered it (its `id`, its `secret` `whsec_…`). */
  endpoint: Record<string, unknown>;
}

/**
 * Through the REST API as `admin`: an agency of the environment domain, a threshold rule on one
 * device's PM2.5 (fires above 100 µg/m³, clears below 80 — hysteresis, so one excursion is one
 * alert), a webhook endpoint at `url`, and a subscription sending that rule's alerts there at once
 * (no grouping wait or interval). `label` names them (Vietnamese first, as the platform does).
 * @throws Error with the API's answer when any request is refused
 */
export async function pm25AlertToWebhook(
  admin: ApiSession,
  options: { agency: string; ruleId: string; deviceId: string; url: string; label: string },
): Promise<Pm25AlertWebhook> {
  const { agency, ruleId, deviceId, url, label } = options;
  await expectCall(
    admin,
    'POST',
    '/api/v1/agencies',
    { id: agency, name: `Sở (e2e ${label})`, scope: { domains: ['env'] } },
    201,
  );
  await expectCall(
    admin,
    'POST',
    '/api/v1/rules',
    {
      id: ruleId,
      kind: 'threshold',
      name: { vi: `PM2.5 cao (${label})`, en: `PM2.5 high (${label})` },
      severity: 'warning',
      scope: { deviceIds: [deviceId] },
      metric: 'pm25',
      condition: { op: 'above', value: 100 },
      clear: { op: 'below', value: 80 },
      message: { vi: '{device}: {value}', en: '{device}: {value}' },
    },
    201,
  );
  const endpoint = await expectCall(
    admin,
    'POST',
    `/api/v1/agencies/${agency}/webhooks`,
    { url, description: label },
    201,
  );
  await expectCall(
    admin,
    'POST',
    `/api/v1/agencies/${agency}/subscriptions`,
    {
      name: label,
      filters: { ruleIds: [ruleId] },
      webhookEndpointIds: [endpoint['id']],
      mqtt: false,
      groupWaitSeconds: 0,
      groupIntervalSeconds: 0,
    },
    201,
  );
  return { agency, ruleId, endpoint };
}
