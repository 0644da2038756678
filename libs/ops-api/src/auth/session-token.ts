import type { INestApplication } from '@nestjs/common';
import type { AccessPort } from '../access-port';
import { ACCESS } from '../tokens';
import { Authenticator } from './authenticator';

/**
 * Opens a bearer session for an existing account in a running API and answers an access token
 * for it, as a password login would — without the password. For tests, benchmarks and tools that
 * start the API in their own process (HTTP clients log in with POST /api/v1/auth/login instead).
 *
 * @returns the session id and the access token (valid for the API's token TTL)
 */
export async function sessionTokenFor(
  app: INestApplication,
  accountId: string,
): Promise<{ sessionId: string; token: string }> {
  const access = app.get<AccessPort>(ACCESS);
  const { session } = await access.sessions.create({ accountId, kind: 'bearer', via: 'password' });
  const { accessToken } = await app.get(Authenticator).issueAccessToken(accountId, session.id);
  return { sessionId: session.id, token: accessToken };
}
