import { z } from 'zod';
import { accessScopeSchema, roleSchema } from '../access';
import { ISO_TIMESTAMP } from '../payload-schemas';

/**
 * Bodies of the authentication routes (`/api/v1/auth/…`) and of the admin routes for accounts,
 * agencies and agency API keys, as zod schemas the API parses and documents with and clients may
 * parse with. Browser-safe. Secrets (passwords, tokens, keys, MQTT secrets) appear only in the
 * request that sets them or the one answer that shows them once.
 */

/** Usernames (compared ignoring case): a letter or digit, then 1–63 of `a-z 0-9 . _ @ -`. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{1,63}$/i;

/** Agency ids: a lower-case slug (`so-nnmt`), 2–64 characters. */
export const AGENCY_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,63}$/;

/** What the API refuses in a name or note a person will read (400 naming the field; text-safety.ts). */
const NO_CONTROL_CHARACTERS =
  'no control or bidirectional characters (U+0000-U+001F, U+007F-U+009F, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)';

/** Passwords are 12–256 characters (NIST SP 800-63B §5.1.1.2); the API checks the rest of the policy. */
const password = z.string().min(1).max(256);

/** ISO-8601 date-time with an offset, as every time in these bodies is written. */
const isoTime = z.string().describe('ISO-8601');

/** `POST /api/v1/auth/login`. */
export const loginRequestBody = z.strictObject({
  username: z.string().min(1).max(64),
  password,
  session: z
    .enum(['bearer', 'cookie'])
    .default('bearer')
    .describe(
      'bearer (default): answer an access token and a refresh token; cookie: set the httpOnly, SameSite=Strict `ioc_session` cookie (browsers) and answer the principal',
    ),
});
export type LoginRequestBody = z.infer<typeof loginRequestBody>;

/** `POST /api/v1/auth/refresh`. */
export const refreshRequestBody = z.strictObject({
  refreshToken: z.string().min(1).max(512).describe('the refresh token of the last login or refresh'),
});
export type RefreshRequestBody = z.infer<typeof refreshRequestBody>;

/** `POST /api/v1/auth/password`: change one's own password. */
export const changePasswordBody = z.strictObject({
  currentPassword: password,
  newPassword: password.describe(
    '12–256 characters, not the username, not one repeated character, not a common password, not the current password',
  ),
});
export type ChangePasswordBody = z.infer<typeof changePasswordBody>;

/** Who a request acts as (contracts' Principal). */
export const principalBody = z.object({
  kind: z.enum(['account', 'apiKey']),
  id: z.string().describe('account id or API key id'),
  name: z.string().describe("username, or the key's name"),
  role: roleSchema,
  scope: accessScopeSchema.nullable().describe('effective scope; null: the whole province'),
  agencyId: z.string().optional(),
  sessionId: z.string().optional(),
});
export type PrincipalBody = z.infer<typeof principalBody>;

/** `GET /api/v1/auth/me`: the principal, and the account's display name. */
export const meBody = principalBody.extend({
  displayName: z.string().optional().describe('accounts only'),
});
export type MeBody = z.infer<typeof meBody>;

/** A bearer login or a refresh: the tokens (OAuth 2.0 token response field names, RFC 6749 §5.1). */
export const tokenBody = z.object({
  accessToken: z.string().describe('JWT (HS256): send as `Authorization: Bearer …`'),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().positive().describe('seconds the access token is valid'),
  refreshToken: z
    .string()
    .describe(
      'opaque; exchange it at /auth/refresh for new tokens (it is then replaced: reusing it ends the session)',
    ),
  refreshExpiresAt: isoTime.describe('when the session ends at the latest (absolute lifetime)'),
});
export type TokenBody = z.infer<typeof tokenBody>;

/** `POST /api/v1/auth/login`: tokens and the principal (bearer), or the principal alone (cookie). */
export const loginBody = z.object({
  principal: meBody,
  ...tokenBody.partial().shape,
});
export type LoginBody = z.infer<typeof loginBody>;

/** `POST /api/v1/auth/logout`. */
export const logoutBody = z.object({
  ended: z.boolean().describe('false: the session had already ended'),
  endSessionUrl: z
    .string()
    .optional()
    .describe(
      "A session opened through single sign-on: the provider's end-session URL (RP-initiated logout) to send the browser to",
    ),
});
export type LogoutBody = z.infer<typeof logoutBody>;

/** One account, without any secret. */
export const accountBody = z.object({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  role: roleSchema,
  source: z.enum(['local', 'oidc']).describe('local: password; oidc: single sign-on'),
  agencyId: z.string().nullable(),
  scope: accessScopeSchema.nullable().describe("the account's own scope (the agency's applies too)"),
  state: z.enum(['active', 'disabled']),
  lockedUntil: isoTime.nullable().describe('logins refused until then (too many failures)'),
  lastLoginAt: isoTime.nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
});
export type AccountBody = z.infer<typeof accountBody>;

/** `GET /api/v1/accounts`. */
export const accountListBody = z.object({ items: z.array(accountBody) });
export type AccountListBody = z.infer<typeof accountListBody>;

/** `POST /api/v1/accounts`. */
export const createAccountBody = z.strictObject({
  username: z
    .string()
    .regex(USERNAME_PATTERN, 'a letter or digit, then 1-63 of a-z 0-9 . _ @ -')
    .describe('matched ignoring case, stored lower-cased'),
  displayName: z.string().min(1).max(200).describe(NO_CONTROL_CHARACTERS),
  role: roleSchema,
  password: password
    .optional()
    .describe('without one the account cannot log in with a password until an admin sets one'),
  agencyId: z.string().regex(AGENCY_ID_PATTERN).optional(),
  scope: accessScopeSchema
    .optional()
    .describe("with an agency: must share a domain and an area with the agency's scope"),
});
export type CreateAccountBody = z.infer<typeof createAccountBody>;

/** `PATCH /api/v1/accounts/{id}`: null clears the agency or the scope. */
export const patchAccountBody = z.strictObject({
  displayName: z.string().min(1).max(200).describe(NO_CONTROL_CHARACTERS).optional(),
  role: roleSchema.optional(),
  agencyId: z.string().regex(AGENCY_ID_PATTERN).nullable().optional(),
  scope: accessScopeSchema.nullable().optional(),
});
export type PatchAccountBody = z.infer<typeof patchAccountBody>;

/** `POST /api/v1/accounts/{id}/password`: an admin sets a new password (the account's sessions end). */
export const resetPasswordBody = z.strictObject({
  password: password.describe('12–256 characters, passing the policy, not the current password'),
});
export type ResetPasswordBody = z.infer<typeof resetPasswordBody>;

/** One agency. */
export const agencyBody = z.object({
  id: z.string(),
  name: z.string(),
  scope: accessScopeSchema,
  state: z.enum(['active', 'disabled']),
  note: z.string().nullable(),
  mqttSecretHint: z
    .string()
    .nullable()
    .describe("the MQTT secret's first characters, or null: no MQTT account"),
  createdAt: isoTime,
  updatedAt: isoTime,
});
export type AgencyBody = z.infer<typeof agencyBody>;

/** `GET /api/v1/agencies`. */
export const agencyListBody = z.object({ items: z.array(agencyBody) });
export type AgencyListBody = z.infer<typeof agencyListBody>;

/** `POST /api/v1/agencies`. */
export const createAgencyBody = z.strictObject({
  id: z.string().regex(AGENCY_ID_PATTERN, 'lower-case letters, digits and "-", 2-64 characters'),
  name: z.string().min(1).max(200).describe(NO_CONTROL_CHARACTERS),
  scope: accessScopeSchema,
  note: z.string().max(2000).describe(NO_CONTROL_CHARACTERS).optional(),
});
export type CreateAgencyBody = z.infer<typeof createAgencyBody>;

/** `PATCH /api/v1/agencies/{id}`: null clears the note. */
export const patchAgencyBody = z.strictObject({
  name: z.string().min(1).max(200).describe(NO_CONTROL_CHARACTERS).optional(),
  scope: accessScopeSchema.optional(),
  note: z.string().max(2000).describe(NO_CONTROL_CHARACTERS).nullable().optional(),
});
export type PatchAgencyBody = z.infer<typeof patchAgencyBody>;

/** `POST /api/v1/agencies/{id}/mqtt-credentials` (201): the MQTT secret, shown this once. */
export const agencyMqttCredentialsBody = z.object({
  username: z.string().describe('the MQTT username: agency:{agencyId}'),
  secret: z.string().describe('the MQTT password: shown only in this answer; issuing again replaces it'),
  hint: z.string(),
});
export type AgencyMqttCredentialsBody = z.infer<typeof agencyMqttCredentialsBody>;

/** One agency API key, never the key itself. */
export const apiKeyBody = z.object({
  id: z.string(),
  agencyId: z.string(),
  name: z.string(),
  prefix: z.string().describe('the visible start of the key (iocak_ + 8 hex digits), to tell keys apart'),
  createdAt: isoTime,
  createdBy: z.string().nullable().describe('the account that issued it'),
  expiresAt: isoTime.nullable(),
  revokedAt: isoTime.nullable(),
  lastUsedAt: isoTime.nullable().describe('to the minute'),
  status: z.enum(['active', 'expired', 'revoked']),
});
export type ApiKeyBody = z.infer<typeof apiKeyBody>;

/** `GET /api/v1/agencies/{id}/keys`. */
export const apiKeyListBody = z.object({ items: z.array(apiKeyBody) });
export type ApiKeyListBody = z.infer<typeof apiKeyListBody>;

/** `POST /api/v1/agencies/{id}/keys`. */
export const issueApiKeyBody = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(200)
    .describe(`what the key is for, e.g. "air-quality dashboard"; ${NO_CONTROL_CHARACTERS}`),
  expiresAt: ISO_TIMESTAMP.optional().describe('ISO-8601 with an offset; absent: the key does not expire'),
});
export type IssueApiKeyBody = z.infer<typeof issueApiKeyBody>;

/** `POST /api/v1/agencies/{id}/keys` (201): the key, shown this once. */
export const issuedApiKeyBody = z.object({
  apiKey: apiKeyBody,
  key: z
    .string()
    .describe('the API key: shown only in this answer; send as `X-API-Key: …` or `Authorization: Bearer …`'),
});
export type IssuedApiKeyBody = z.infer<typeof issuedApiKeyBody>;
