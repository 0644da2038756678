/**
 * Logging in to a running API over real HTTP, as a script or the console would, for tests and
 * benchmarks.
 */

/** The password `startPlatform` gives the first admin (IOC_ADMIN_PASSWORD): passes the policy. */
export const TEST_ADMIN_PASSWORD = 'e2e-admin-correct-horse-battery';

/** A logged-in client of an API: its access token and the headers that carry it. */
export interface ApiSession {
  accessToken: string;
  refreshToken: string;
  /** `{ authorization: 'Bearer …' }` */
  headers: Record<string, string>;
  /** `fetch(httpUrl + path)` with the session's Authorization header added. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * Logs in with `POST /api/v1/auth/login` (bearer session).
 * @throws Error naming the status and body when the login is refused
 */
export async function loginToApi(httpUrl: string, username: string, password: string): Promise<ApiSession> {
  const response = await fetch(`${httpUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { accessToken?: string; refreshToken?: string };
  if (response.status !== 200 || !body.accessToken || !body.refreshToken)
    throw new Error(`login of ${username} at ${httpUrl} refused: ${response.status} ${JSON.stringify(body)}`);
  return apiSession(httpUrl, body.accessToken, body.refreshToken);
}

function apiSession(httpUrl: string, accessToken: string, refreshToken: string): ApiSession {
  const headers = { authorization: `Bearer ${accessToken}` };
  return {
    accessToken,
    refreshToken,
    headers,
    fetch: (path, init = {}) =>
      fetch(`${httpUrl}${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string>) },
      }),
  };
}
