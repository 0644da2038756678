import type {
  AlertBody,
  AlertDetailBody,
  AlertListBody,
  AreaListBody,
  AuthProvidersBody,
  CommandListBody,
  CommandRecordBody,
  CommandRequestBody,
  ConsoleConfigBody,
  DeviceDetailBody,
  DeviceHistoryBody,
  DeviceListBody,
  DeviceState,
  DeviceType,
  DeviceStatusListBody,
  Domain,
  ErrorBody,
  HistoryAggregation,
  IngestStatsBody,
  LatestBody,
  LoginBody,
  LogoutBody,
  MeBody,
  Severity,
} from '@ioc/contracts';

/**
 * A REST answer that was not 2xx: the HTTP status and the API's error body
 * (`{statusCode, error, message, reason?, parameter?}`), when it sent one.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Partial<ErrorBody> & { reason?: string },
    /** The answer's `Retry-After` in seconds (RFC 9110 §10.2.3, delay-seconds form), null when absent. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(body.message ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }

  /** The refusal's `reason` (`invalid-credentials`, `session-ended`, `out-of-scope`, …), if any. */
  get reason(): string | undefined {
    return this.body.reason;
  }
}

/** How the client reaches the API. */
export interface ApiClientOptions {
  /** Prefix of every path; '' (the default) is the page's own origin, where the API serves the console. */
  baseUrl?: string;
  /** The fetch to use (the browser's by default). */
  fetch?: typeof fetch;
  /** Called on every 401 after login (the session ended, timed out or was revoked). */
  onUnauthorized?: (error: ApiError) => void;
}

/** Query of `GET /api/v1/devices/{id}/history`: one metric, raw or one aggregate per window. */
export interface DeviceHistoryQuery {
  metric: string;
  /** ISO-8601 with offset, or epoch ms. */
  from?: string | number;
  to?: string | number;
  /** Window (`1m`, `1h`, …); absent = raw points, or the API's choice with `resolution=auto`. */
  every?: string;
  fn?: HistoryAggregation;
}

/** Query of `GET /api/v1/devices`: registry facts (attributes included), one page. */
export interface DeviceListQuery {
  domain?: Domain;
  type?: DeviceType;
  /** Area id; devices of its sub-areas match too. */
  area?: string;
  state?: DeviceState;
  /** Text in the id or the name. */
  q?: string;
  /** Page size, 1–5000 (API default 1000). */
  limit?: number;
  offset?: number;
}

/** Query of `GET /api/v1/alerts` (every list a comma-separated list on the wire). */
export interface AlertListQuery {
  open?: boolean;
  deviceId?: string[];
  domain?: Domain[];
  area?: string[];
  severity?: Severity[];
  limit?: number;
  cursor?: string;
}

type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

/**
 * The console's typed REST client. Every answer type is the contracts' (`@ioc/contracts`
 * `rest/`), never a hand-copied interface. The browser session is the httpOnly `ioc_session`
 * cookie set at login (`credentials: 'same-origin'`), so no token is ever held by page script.
 */
export interface ApiClient {
  /** `GET /api/v1/auth/providers` (public): password and SSO login. */
  providers(): Promise<AuthProvidersBody>;
  /** `GET /api/v1/console/config` (public): basemap, default language, alert sound. */
  consoleConfig(): Promise<ConsoleConfigBody>;
  /** `POST /api/v1/auth/login` with `session: 'cookie'`. Throws ApiError 401 `invalid-credentials`, `account-locked`, … */
  login(username: string, password: string): Promise<LoginBody>;
  /** `GET /api/v1/auth/me`: who is logged in (401 when nobody). */
  me(): Promise<MeBody>;
  /**
   * `POST /api/v1/auth/logout`: ends the session and clears the cookie; an SSO session's answer
   * names the provider's end-session URL (`endSessionUrl`).
   */
  logout(): Promise<LogoutBody>;
  /** `GET /api/v1/devices/status`: every device in scope with status and latest values (first paint). */
  deviceStatuses(filter?: { domain?: Domain; type?: string; area?: string }): Promise<DeviceStatusListBody>;
  /** `GET /api/v1/areas`: the area tree (flat, with parentId and centre). */
  areas(): Promise<AreaListBody>;
  /** `GET /api/v1/devices`: registry entries with their attributes (camera stream and snapshot URLs). */
  devices(query?: DeviceListQuery): Promise<DeviceListBody>;
  /** `GET /api/v1/devices/{id}`. */
  device(id: string): Promise<DeviceDetailBody>;
  /** `GET /api/v1/devices/{id}/latest`. */
  latest(id: string): Promise<LatestBody>;
  /** `GET /api/v1/devices/{id}/history`. */
  deviceHistory(id: string, query: DeviceHistoryQuery): Promise<DeviceHistoryBody>;
  /** The URL of the same history as CSV (`format=csv`), for a download link. */
  deviceHistoryCsvUrl(id: string, query: DeviceHistoryQuery): string;
  /** `GET /api/v1/alerts`: newest first, narrowed to the caller's scope. */
  alerts(query?: AlertListQuery): Promise<AlertListBody>;
  /** `GET /api/v1/alerts/{id}`: the alert and its transitions. */
  alert(id: string): Promise<AlertDetailBody>;
  /** `POST /api/v1/alerts/{id}/acknowledge` (operator). 409 when it moved on (stale version). */
  acknowledgeAlert(id: string, body: { note?: string; version: number }): Promise<AlertBody>;
  /** `GET /api/v1/devices/{id}/commands`: newest first. */
  commands(deviceId: string, limit?: number): Promise<CommandListBody>;
  /** `POST /api/v1/devices/{id}/commands` (operator): 202 with the command record (`state: 'sent'`). */
  sendCommand(deviceId: string, body: CommandRequestBody): Promise<CommandRecordBody>;
  /** `GET /api/v1/ingest/stats`: counters and health conditions. */
  ingestStats(): Promise<IngestStatsBody>;
}

/** Builds a query string: lists joined with commas, undefined left out. */
export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) params.set(key, value.join(','));
    } else params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Creates the client. Errors: every non-2xx answer rejects with ApiError; a network failure with TypeError. */
export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const base = options.baseUrl ?? '';
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { ...init.headers, 'content-type': 'application/json' };
    }
    const response = await doFetch(`${base}${path}`, init);
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { message: text.slice(0, 200) };
      }
    }
    if (!response.ok) {
      const retryAfter = Number.parseInt(response.headers?.get('retry-after') ?? '', 10);
      const error = new ApiError(
        response.status,
        (parsed ?? {}) as ApiError['body'],
        Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null,
      );
      if (response.status === 401 && !path.startsWith('/api/v1/auth/login')) options.onUnauthorized?.(error);
      throw error;
    }
    return parsed as T;
  }

  const historyPath = (id: string, query: DeviceHistoryQuery, format?: 'csv'): string =>
    `/api/v1/devices/${encodeURIComponent(id)}/history${queryString({ ...query, format })}`;

  return {
    providers: () => call('GET', '/api/v1/auth/providers'),
    consoleConfig: () => call('GET', '/api/v1/console/config'),
    login: (username, password) =>
      call('POST', '/api/v1/auth/login', { username, password, session: 'cookie' }),
    me: () => call('GET', '/api/v1/auth/me'),
    logout: () => call('POST', '/api/v1/auth/logout'),
    deviceStatuses: (filter = {}) => call('GET', `/api/v1/devices/status${queryString(filter)}`),
    areas: () => call('GET', '/api/v1/areas'),
    devices: (query = {}) => call('GET', `/api/v1/devices${queryString({ ...query })}`),
    device: (id) => call('GET', `/api/v1/devices/${encodeURIComponent(id)}`),
    latest: (id) => call('GET', `/api/v1/devices/${encodeURIComponent(id)}/latest`),
    deviceHistory: (id, query) => call('GET', historyPath(id, query)),
    deviceHistoryCsvUrl: (id, query) => `${base}${historyPath(id, query, 'csv')}`,
    alerts: (query = {}) => call('GET', `/api/v1/alerts${queryString({ ...query })}`),
    alert: (id) => call('GET', `/api/v1/alerts/${encodeURIComponent(id)}`),
    acknowledgeAlert: (id, body) =>
      call('POST', `/api/v1/alerts/${encodeURIComponent(id)}/acknowledge`, body),
    commands: (deviceId, limit = 20) =>
      call('GET', `/api/v1/devices/${encodeURIComponent(deviceId)}/commands${queryString({ limit })}`),
    sendCommand: (deviceId, body) =>
      call('POST', `/api/v1/devices/${encodeURIComponent(deviceId)}/commands`, body),
    ingestStats: () => call('GET', '/api/v1/ingest/stats'),
  };
}
