import type { AccountRecord, AgencyRecord, ApiKeyRecord } from '@ioc/access';
import type { AccountBody, AgencyBody, ApiKeyBody } from '@ioc/contracts';

/** An account as the API answers it: no password hash, no failure counter; a past lockout as null. */
export function accountView(account: AccountRecord, now = Date.now()): AccountBody {
  const lockedUntil =
    account.lockedUntil !== undefined && Date.parse(account.lockedUntil) > now ? account.lockedUntil : null;
  return {
    id: account.id,
    username: account.username,
    displayName: account.displayName,
    role: account.role,
    source: account.source,
    agencyId: account.agencyId ?? null,
    scope: account.scope ?? null,
    state: account.state,
    lockedUntil,
    lastLoginAt: account.lastLoginAt ?? null,
    createdAt: account.createdAt,
    updatedAt: account.updatedAt,
  };
}

/** An agency as the API answers it: the MQTT secret's hint, never its hash. */
export function agencyView(agency: AgencyRecord): AgencyBody {
  return {
    id: agency.id,
    name: agency.name,
    scope: agency.scope,
    state: agency.state,
    note: agency.note ?? null,
    mqttSecretHint: agency.mqttSecretHint ?? null,
    createdAt: agency.createdAt,
    updatedAt: agency.updatedAt,
  };
}

/** An API key as the API answers it: its prefix, never the key or its hash. */
export function apiKeyView(key: ApiKeyRecord): ApiKeyBody {
  return {
    id: key.id,
    agencyId: key.agencyId,
    name: key.name,
    prefix: key.prefix,
    createdAt: key.createdAt,
    createdBy: key.createdBy ?? null,
    expiresAt: key.expiresAt ?? null,
    revokedAt: key.revokedAt ?? null,
    lastUsedAt: key.lastUsedAt ?? null,
    status: key.status,
  };
}
