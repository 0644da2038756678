import { ApiError, createApiClient } from './api-client';

/*
 * The client over a fetch that answers with real WHATWG Response objects (the frontend's type
 * check has DOM types, not Node's, so no node:http server here): what is checked is how the
 * client reads the answer's status, body and Retry-After.
 */
function answering(status: number, body: unknown, headers: Record<string, string> = {}): typeof fetch {
  return async () =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    });
}

describe('ApiError', () => {
  it('carries the Retry-After seconds of a locked login, and login 401s do not end the session', async () => {
    const fetch = answering(
      401,
      { statusCode: 401, error: 'Unauthorized', reason: 'account-locked', message: 'locked' },
      { 'retry-after': '900' },
    );
    const unauthorized: ApiError[] = [];
    const api = createApiClient({ fetch, onUnauthorized: (e) => unauthorized.push(e) });
    const error = await api.login('op', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, reason: 'account-locked', retryAfterSeconds: 900 });
    expect(unauthorized).toEqual([]);
    await api.me().catch(() => undefined);
    expect(unauthorized).toHaveLength(1);
  });

  it('has no wait when the answer names none', async () => {
    const error = await createApiClient({ fetch: answering(409, { statusCode: 409, error: 'Conflict' }) })
      .acknowledgeAlert('a1', { version: 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 409, retryAfterSeconds: null });
  });
});
