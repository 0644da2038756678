import { join } from 'node:path';
import { z } from 'zod';
import { envField, loadServerKey } from '@ioc/runtime';

/** Username pattern, compared ignoring case: a letter or digit, then 1–63 of `a-z 0-9 . _ @ -`. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{1,63}$/i;

/**
 * Environment variables of people and sessions, merged into the API's env schema (like
 * `registryEnvShape`). Durations are whole numbers in the unit their name gives.
 */
export const accessEnvShape = {
  IOC_ADMIN_USERNAME: z
    .string()
    .regex(USERNAME_PATTERN, 'a letter or digit, then 1-63 of a-z 0-9 . _ @ -')
    .default('admin')
    .describe('Username of the first admin, created at start when no active admin account exists'),
  IOC_ADMIN_PASSWORD: z
    .string()
    .optional()
    .describe(
      'Password of that first admin (12-256 characters, not the username, not a common password); unset: a generated one is printed once to stdout; secret',
    ),
  IOC_AUTH_TOKEN_SECRET: z
    .string()
    .optional()
    .describe(
      'Key access tokens are signed with (HS256), base64 or hex of at least 32 bytes; the same on every API node. Unset: generated once in {IOC_DATA_DIR}/keys/auth-token.key; secret',
    ),
  IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS: envField
    .positiveInt(900)
    .describe('Lifetime of an access token (JWT), seconds; a refresh gives a new one'),
  IOC_AUTH_SESSION_IDLE_MINUTES: envField
    .positiveInt(30)
    .describe('A login session unused for this long ends (refresh token and cookie refused), minutes'),
  IOC_AUTH_SESSION_MAX_HOURS: envField
    .positiveInt(12)
    .describe('A login session ends this long after the login, however it is used, hours'),
  IOC_AUTH_LOCKOUT_ATTEMPTS: envField
    .positiveInt(5)
    .describe('Consecutive failed logins that lock an account for IOC_AUTH_LOCKOUT_MINUTES'),
  IOC_AUTH_LOCKOUT_MINUTES: envField
    .positiveInt(15)
    .describe('How long a locked account refuses logins (answered account-locked with Retry-After), minutes'),
  IOC_AUTH_ADDRESS_MAX_FAILURES: envField
    .positiveInt(20)
    .describe('Failed logins from one client address within 15 minutes after which its logins are refused'),
};

/** The parsed access variables (a subset of an app's parsed env). */
export interface AccessEnv {
  IOC_ADMIN_USERNAME: string;
  IOC_ADMIN_PASSWORD?: string | undefined;
  IOC_AUTH_TOKEN_SECRET?: string | undefined;
  IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS: number;
  IOC_AUTH_SESSION_IDLE_MINUTES: number;
  IOC_AUTH_SESSION_MAX_HOURS: number;
  IOC_AUTH_LOCKOUT_ATTEMPTS: number;
  IOC_AUTH_LOCKOUT_MINUTES: number;
  IOC_AUTH_ADDRESS_MAX_FAILURES: number;
}

/** Window over which failed logins from one address are counted: 15 minutes (the design page). */
export const ADDRESS_FAILURE_WINDOW_MS = 15 * 60_000;

/** The access settings in the units the repositories take (milliseconds). */
export interface AccessSettings {
  accessTokenTtlSeconds: number;
  /** SessionRepository's `idleMs`. */
  sessionIdleMs: number;
  /** SessionRepository's `maxMs`. */
  sessionMaxMs: number;
  /** LoginService's `lockoutAttempts`. */
  lockoutAttempts: number;
  /** LoginService's `lockoutMs`. */
  lockoutMs: number;
  /** LoginService's `addressMaxFailures` (per ADDRESS_FAILURE_WINDOW_MS). */
  addressMaxFailures: number;
}

/** Converts the parsed variables to AccessSettings. */
export function accessSettings(env: AccessEnv): AccessSettings {
  return {
    accessTokenTtlSeconds: env.IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS,
    sessionIdleMs: env.IOC_AUTH_SESSION_IDLE_MINUTES * 60_000,
    sessionMaxMs: env.IOC_AUTH_SESSION_MAX_HOURS * 3_600_000,
    lockoutAttempts: env.IOC_AUTH_LOCKOUT_ATTEMPTS,
    lockoutMs: env.IOC_AUTH_LOCKOUT_MINUTES * 60_000,
    addressMaxFailures: env.IOC_AUTH_ADDRESS_MAX_FAILURES,
  };
}

/** Least bytes of the token signing secret: RFC 7518 §3.2 asks HS256 keys of at least 256 bits. */
export const TOKEN_SECRET_MIN_BYTES = 32;

/** Where the generated token secret lives: `{IOC_DATA_DIR}/keys/auth-token.key`. */
export function defaultTokenSecretPath(dataDir: string): string {
  return join(dataDir, 'keys', 'auth-token.key');
}

/**
 * The key access tokens are signed with (HS256): IOC_AUTH_TOKEN_SECRET when set (base64 or hex,
 * ≥ 32 bytes), else the key file `{dataDir}/keys/auth-token.key`, created by the first process
 * (loadServerKey from @ioc/runtime, shared with the device credential key). Every API node must
 * have the same one; losing it only logs everybody out (access tokens last minutes; sessions are
 * in the database).
 *
 * @throws Error when the configured secret or the file holds fewer than 32 bytes
 */
export function loadTokenSecret(options: { configured?: string | undefined; dataDir: string }): Buffer {
  return loadServerKey({
    ...(options.configured === undefined ? {} : { configured: options.configured }),
    path: defaultTokenSecretPath(options.dataDir),
    minBytes: TOKEN_SECRET_MIN_BYTES,
    name: 'IOC_AUTH_TOKEN_SECRET',
    description: 'the auth token secret',
  });
}
