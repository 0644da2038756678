import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, createApiClient } from './api-client';

/** A real loopback HTTP server answering what each test sets. */
let server: Server;
let base: string;
let answer: { status: number; headers: Record<string, string>; body: string };

beforeAll(async () => {
  server = createServer((_request, response) => {
    response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('ApiError', () => {
  it('carries the Retry-After seconds of a locked login, and login 401s do not end the session', async () => {
    answer = {
      status: 401,
      headers: { 'retry-after': '900' },
      body: JSON.stringify({
        statusCode: 401,
        error: 'Unauthorized',
        reason: 'account-locked',
        message: 'locked',
      }),
    };
    const unauthorized: ApiError[] = [];
    const api = createApiClient({ baseUrl: base, onUnauthorized: (e) => unauthorized.push(e) });
    const error = await api.login('op', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, reason: 'account-locked', retryAfterSeconds: 900 });
    expect(unauthorized).toEqual([]);
    const later = await api.me().catch((e: unknown) => e);
    expect((later as ApiError).retryAfterSeconds).toBe(900);
    expect(unauthorized).toHaveLength(1);
  });

  it('has no wait when the answer names none', async () => {
    answer = { status: 409, headers: {}, body: JSON.stringify({ statusCode: 409, error: 'Conflict' }) };
    const error = await createApiClient({ baseUrl: base })
      .acknowledgeAlert('a1', { version: 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 409, retryAfterSeconds: null });
  });
});
