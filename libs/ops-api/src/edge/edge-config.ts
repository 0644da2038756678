import { isIP } from 'node:net';
import { z } from 'zod';
import { envField } from '@ioc/runtime';

/**
 * What the API's edge enforces before any route: security headers (always), CORS, rate limits,
 * the client address behind a proxy, and how `/metrics` is protected. `OpsApiSettings.edge`;
 * DEFAULT_HTTP_EDGE when absent.
 */
export interface HttpEdgeSettings {
  /**
   * Exact origins (`scheme://host[:port]`, as a browser sends them in `Origin`) allowed to call
   * the REST API and open a socket.io connection from a page they serve, with credentials
   * (cookies). Empty: CORS off — no cross-origin page may read an answer.
   */
  corsOrigins: readonly string[];
  rateLimits: {
    /** Requests per minute per authenticated principal (account or API key), all routes together. */
    perPrincipal: number;
    /** Requests per minute per client address for requests without a principal. */
    anonymous: number;
    /** Login attempts per minute per client address (routes marked `@LoginRateLimit()`). */
    login: number;
  };
  /**
   * Express's `trust proxy`: false (the socket's address is the client's), a number of proxy hops
   * in front of the API (HAProxy: 1), or addresses/subnets of the proxies whose X-Forwarded-For
   * is believed. Decides `request.ip`, which anonymous rate limits and audit entries use.
   */
  trustProxy: false | number | readonly string[];
  metrics: {
    /** Bearer token Prometheus sends (`authorization: {credentials: …}` in its scrape config). */
    token?: string;
    /** A separate listener serving only `GET /metrics`, without authentication. */
    listener?: { host: string; port: number };
  };
}

/** Default rate limits: sized for a console polling a few routes every few seconds and a script paging history. */
export const DEFAULT_RATE_LIMITS: HttpEdgeSettings['rateLimits'] = {
  // 10 requests/s sustained: a console refreshing 5 panels every second still has half to spare.
  perPrincipal: 600,
  // 2 requests/s: enough for health probes of a load balancer and a person trying the API.
  anonymous: 120,
  // A person mistyping a password a few times; a guesser gets 10 tries a minute per address
  // (the per-account lockout then stops it for that account).
  login: 10,
};

/** CORS off, default rate limits, no proxy trusted, /metrics only for the token or an admin. */
export const DEFAULT_HTTP_EDGE: HttpEdgeSettings = {
  corsOrigins: [],
  rateLimits: DEFAULT_RATE_LIMITS,
  trustProxy: false,
  metrics: {},
};

/**
 * Parses IOC_HTTP_CORS_ORIGINS: a comma list of origins, each `http(s)://host[:port]` with
 * nothing after it (an origin is what a browser sends in `Origin`: no path, no trailing slash).
 * Returns the normalised origins, or the problem as text. `*` is refused: this API accepts
 * cookies and bearer tokens, and any origin would let every web page a logged-in operator visits
 * act with their session ("credentials" with a wildcard is also forbidden by the Fetch standard,
 * CORS protocol §3.2.5).
 */
export function parseCorsOrigins(text: string): { origins: string[] } | { error: string } {
  const origins: string[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (item === '*' || item === 'null') {
      return {
        error: `"${item}" is not allowed: list the exact origins of the pages that may call the API (e.g. https://console.example.gov.vn); any origin would let every web page act with an operator's session`,
      };
    }
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      return { error: `"${item}" is not an origin: expected scheme://host[:port]` };
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== item.replace(/\/$/, '')) {
      return {
        error: `"${item}" is not an origin: expected http(s)://host[:port] with no path, query or credentials (its origin is "${url.origin}")`,
      };
    }
    if (!origins.includes(url.origin)) origins.push(url.origin);
  }
  return { origins };
}

/** Express's subnet names accepted in a trust proxy list (proxy-addr). */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Parses IOC_HTTP_TRUST_PROXY: `false` (default), a hop count (0–10), or a comma list of proxy
 * addresses, CIDR subnets or the names loopback/linklocal/uniquelocal (Express "trust proxy",
 * proxy-addr). `true` is refused: it believes X-Forwarded-For from anyone, so any client could
 * pick the address its rate limit is counted under.
 */
export function parseTrustProxy(
  text: string,
): { trustProxy: HttpEdgeSettings['trustProxy'] } | { error: string } {
  const value = text.trim();
  if (value === 'false' || value === '0') return { trustProxy: false };
  if (value === 'true') {
    return {
      error:
        '"true" trusts X-Forwarded-For from any client, which lets a client choose its own address: give the number of proxies in front of the API (e.g. 1 for HAProxy) or their addresses',
    };
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops <= 10 ? { trustProxy: hops } : { error: `${hops} proxy hops: at most 10` };
  }
  const entries = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (PROXY_NAMES.has(entry)) continue;
    if (family === 0 || !bitsOk || extra !== undefined) {
      return {
        error: `"${entry}" is neither a hop count, an address, a CIDR subnet nor one of loopback, linklocal, uniquelocal`,
      };
    }
  }
  return entries.length === 0 ? { trustProxy: false } : { trustProxy: entries };
}

/** Environment variables of the API's edge (merged into apiEnvSchema). */
export const httpEdgeEnvShape = {
  IOC_HTTP_CORS_ORIGINS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return [];
      const parsed = parseCorsOrigins(text);
      if ('error' in parsed) {
        ctx.addIssue({ code: 'custom', message: parsed.error });
        return z.NEVER;
      }
      return parsed.origins;
    })
    .describe(
      'Comma list of exact origins (https://host[:port]) whose pages may call the REST API and socket.io with credentials; unset: CORS off. "*" is refused',
    ),
  IOC_HTTP_RATE_LIMIT_PER_MINUTE: envField
    .positiveInt(DEFAULT_RATE_LIMITS.perPrincipal)
    .describe('Requests per minute per authenticated principal (account or API key); 429 beyond'),
  IOC_HTTP_ANONYMOUS_RATE_LIMIT_PER_MINUTE: envField
    .positiveInt(DEFAULT_RATE_LIMITS.anonymous)
    .describe('Requests per minute per client address without a principal; 429 beyond'),
  IOC_HTTP_LOGIN_RATE_LIMIT_PER_MINUTE: envField
    .positiveInt(DEFAULT_RATE_LIMITS.login)
    .describe('Login attempts per minute per client address; 429 beyond'),
  IOC_HTTP_TRUST_PROXY: z
    .string()
    .default('false')
    .transform((text, ctx) => {
      const parsed = parseTrustProxy(text);
      if ('error' in parsed) {
        ctx.addIssue({ code: 'custom', message: parsed.error });
        return z.NEVER;
      }
      return parsed.trustProxy;
    })
    .describe(
      'Proxies in front of the API whose X-Forwarded-For names the client: false, a hop count (1 behind HAProxy) or a comma list of addresses/subnets',
    ),
  IOC_METRICS_TOKEN: z
    .string()
    .min(16, 'at least 16 characters')
    .optional()
    .describe(
      'Bearer token that may read /metrics on the HTTP port (Prometheus authorization.credentials); secret',
    ),
  IOC_METRICS_PORT: z.coerce
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('Port of a separate listener serving only /metrics, without authentication; unset: none'),
  IOC_METRICS_HOST: z
    .string()
    .default('127.0.0.1')
    .describe('Address the separate /metrics listener binds (IOC_METRICS_PORT)'),
};

/** The edge settings from the API's parsed environment. */
export function httpEdgeSettingsFromEnv(env: {
  IOC_HTTP_CORS_ORIGINS: string[];
  IOC_HTTP_RATE_LIMIT_PER_MINUTE: number;
  IOC_HTTP_ANONYMOUS_RATE_LIMIT_PER_MINUTE: number;
  IOC_HTTP_LOGIN_RATE_LIMIT_PER_MINUTE: number;
  IOC_HTTP_TRUST_PROXY: HttpEdgeSettings['trustProxy'];
  IOC_METRICS_TOKEN?: string;
  IOC_METRICS_PORT?: number;
  IOC_METRICS_HOST: string;
}): HttpEdgeSettings {
  return {
    corsOrigins: env.IOC_HTTP_CORS_ORIGINS,
    rateLimits: {
      perPrincipal: env.IOC_HTTP_RATE_LIMIT_PER_MINUTE,
      anonymous: env.IOC_HTTP_ANONYMOUS_RATE_LIMIT_PER_MINUTE,
      login: env.IOC_HTTP_LOGIN_RATE_LIMIT_PER_MINUTE,
    },
    trustProxy: env.IOC_HTTP_TRUST_PROXY,
    metrics: {
      ...(env.IOC_METRICS_TOKEN === undefined ? {} : { token: env.IOC_METRICS_TOKEN }),
      ...(env.IOC_METRICS_PORT === undefined
        ? {}
        : { listener: { host: env.IOC_METRICS_HOST, port: env.IOC_METRICS_PORT } }),
    },
  };
}

/**
 * Whether a request's `Origin` may use the API: no Origin (not a browser's cross-origin request),
 * an origin in `corsOrigins`, or the API's own origin (the `Host` the request was sent to: the
 * console served by the API itself).
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  corsOrigins: readonly string[],
): boolean {
  if (origin === undefined) return true;
  if (corsOrigins.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}
