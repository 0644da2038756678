import type { Generated } from 'kysely';

/**
 * The relational schema of the platform's registry database, as Kysely sees it. Column names are
 * snake_case; every time is an integer count of milliseconds since the Unix epoch (UTC), stored
 * as `bigint` (PostgreSQL's int8 is parsed to a JS number: exact up to 2^53 ms, year 287 396);
 * JSON values are text; booleans are 0/1 integers (SQLite has no boolean). Both dialects hold
 * exactly the same values.
 */
export interface DatabaseSchema {
  areas: AreasTable;
  devices: DevicesTable;
  device_credentials: DeviceCredentialsTable;
  device_status: DeviceStatusTable;
  device_status_history: DeviceStatusHistoryTable;
  commands: CommandsTable;
  registry_changes: RegistryChangesTable;
  agencies: AgenciesTable;
  accounts: AccountsTable;
  sessions: SessionsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  rules: RulesTable;
  rule_versions: RuleVersionsTable;
  alerts: AlertsTable;
  alert_transitions: AlertTransitionsTable;
  silences: SilencesTable;
  consumer_cursors: ConsumerCursorsTable;
  webhook_endpoints: WebhookEndpointsTable;
  subscriptions: SubscriptionsTable;
  notification_groups: NotificationGroupsTable;
  notifications: NotificationsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  leases: LeasesTable;
  key_fingerprints: KeyFingerprintsTable;
}

/** The administrative area tree (Vietnam's 2025 two-level structure, held as data). */
export interface AreasTable {
  id: string;
  name: string;
  level: string;
  parent_id: string | null;
  /** WGS 84 degrees; both null when the area has no centre. */
  lat: number | null;
  lon: number | null;
  note: string | null;
  created_at: number;
  updated_at: number;
}

export interface DevicesTable {
  id: string;
  type: string;
  domain: string;
  name: string;
  area_id: string;
  /** WGS 84 degrees. */
  lat: number;
  lon: number;
  /** JSON object of string → string, or null. */
  attributes: string | null;
  /** `active` | `suspended` | `retired` (DEVICE_STATES). */
  state: string;
  /** Overrides the device type's silence timeout; seconds. */
  silence_timeout_seconds: number | null;
  created_at: number;
  updated_at: number;
}

/** One issued device secret: only its keyed hash is stored (hashDeviceSecret). */
export interface DeviceCredentialsTable {
  id: string;
  device_id: string;
  /** HMAC-SHA256 of the secret under the server's credential key, 64 lowercase hex digits. */
  secret_hash: string;
  /** The secret's first characters (deviceSecretHint), to tell credentials apart in listings. */
  hint: string;
  created_at: number;
  /** End of the rotation grace period: the secret is refused from then on. Null: no end. */
  not_after: number | null;
  /** When it was revoked (refused at once, live sessions closed). Null: not revoked. */
  revoked_at: number | null;
}

/** The latest connectivity status of each device that has ever been seen. */
export interface DeviceStatusTable {
  device_id: string;
  /** `online` | `offline`. */
  status: string;
  /** Why the status last changed (DEVICE_STATUS_REASONS). */
  reason: string;
  /** When the current status began. */
  since: number;
  /** When the platform last heard from the device (connect or any message). */
  last_seen: number | null;
  /** The platform's receive time minus the device's latest reading timestamp, ms. */
  clock_offset_ms: number | null;
  /** 1 when |clock_offset_ms| exceeded the configured limit. */
  clock_suspect: number;
  updated_at: number;
}

/** Every status change, for the status history. */
export interface DeviceStatusHistoryTable {
  id: Generated<number>;
  device_id: string;
  status: string;
  reason: string;
  at: number;
}

/** Commands sent to devices and what became of them. */
export interface CommandsTable {
  /** The command id carried in the MQTT message (`cmd_…`). */
  id: string;
  device_id: string;
  command: string;
  /** JSON object of the validated parameters. */
  params: string;
  /** `sent` | `acknowledged` | `failed` | `timed-out`. */
  state: string;
  /** Who asked for it (a user or key id once people exist), or null. */
  requested_by: string | null;
  created_at: number;
  /** When the command counts as timed out if no acknowledgement has come. */
  deadline: number;
  /** When the acknowledgement (or the failure) was recorded. */
  completed_at: number | null;
  /** The device's outcome: `done` | `failed` | `rejected`, or null before an acknowledgement. */
  outcome: string | null;
  detail: string | null;
}

/**
 * The registry's change log: one row per changed entity, in commit order. Every process reads
 * the rows after its own cursor to bring its in-memory registry up to date, so a change notice
 * lost on the bus is caught up by the next one or by the periodic check.
 */
export interface RegistryChangesTable {
  seq: Generated<number>;
  at: number;
  /** `area` | `device` | `credential` | `agency` | `rule` | `alert`. */
  entity: string;
  entity_id: string;
  /** What happened, e.g. `created`, `updated`, `suspended`, `revoked`. */
  action: string;
}

/** An agency (a department, the police, the lighting company, a commune) and what it may read. */
export interface AgenciesTable {
  /** Lower-case slug, e.g. `so-nnmt` (the Department of Agriculture and Environment). */
  id: string;
  name: string;
  /** JSON AccessScope (`@ioc/contracts`): domains × area subtrees. */
  scope: string;
  /** `active` | `disabled` (a disabled agency's keys, users and MQTT account are refused). */
  state: string;
  /** HMAC-SHA256 of the agency's MQTT password under the credential key, or null: no MQTT account. */
  mqtt_secret_hash: string | null;
  mqtt_secret_hint: string | null;
  note: string | null;
  created_at: number;
  updated_at: number;
}

/** A person's account: local (password) or single sign-on (OIDC issuer + subject). */
export interface AccountsTable {
  id: string;
  /** Unique ignoring case. */
  username: string;
  display_name: string;
  /** `viewer` | `operator` | `admin` (ROLES). */
  role: string;
  /** `local` | `oidc`. */
  source: string;
  oidc_issuer: string | null;
  oidc_subject: string | null;
  /** A self-describing slow hash (`scrypt$…`), or null (SSO accounts, or no password set). */
  password_hash: string | null;
  password_changed_at: number | null;
  /** The agency the person works for: their scope is at most the agency's. */
  agency_id: string | null;
  /** JSON AccessScope narrowing what the account reads, or null. */
  scope: string | null;
  /** `active` | `disabled`. */
  state: string;
  /** Consecutive failed logins since the last success or lockout. */
  failed_logins: number;
  /** Logins are refused until then (temporary lockout), or null. */
  locked_until: number | null;
  last_login_at: number | null;
  created_at: number;
  updated_at: number;
}

/** A login session: what a refresh token or a browser cookie stands for. */
export interface SessionsTable {
  id: string;
  account_id: string;
  /** SHA-256 (hex) of the current session token; the token itself is never stored. */
  token_hash: string;
  /** The token this one replaced at the last refresh: presenting it again revokes the session. */
  previous_token_hash: string | null;
  /** `bearer` (refresh token in the body) | `cookie` (httpOnly browser cookie). */
  kind: string;
  /** `password` | `oidc`. */
  via: string;
  created_at: number;
  last_used_at: number;
  /** Ends the session after inactivity; moved forward on use. */
  idle_expires_at: number;
  /** Ends the session whatever its use (absolute lifetime). */
  expires_at: number;
  revoked_at: number | null;
  /** `logout` | `refresh-reuse` | `account-disabled` | `admin` … */
  revoked_reason: string | null;
  address: string | null;
  user_agent: string | null;
  /** The provider's ID token, kept for RP-initiated logout (OIDC sessions). */
  oidc_id_token: string | null;
}

/** An agency's API key: shown once, stored hashed, found by its visible prefix. */
export interface ApiKeysTable {
  id: string;
  agency_id: string;
  name: string;
  /** The key's visible, unique prefix (the part before the secret), e.g. `iocak_3f9a1c2e`. */
  prefix: string;
  /** SHA-256 (hex) of the whole key. */
  key_hash: string;
  created_at: number;
  /** The account that issued it. */
  created_by: string | null;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** The append-only, hash-chained audit log (`@ioc/audit`). */
export interface AuditLogTable {
  /** 1, 2, 3 … without gaps: a missing number is a removed entry. */
  seq: number;
  ts: number;
  /** `account` | `apiKey` | `system` | `anonymous`. */
  actor_kind: string;
  actor_id: string | null;
  actor_name: string | null;
  /** Dotted verb, e.g. `auth.login`, `device.create`, `apiKey.revoke`. */
  action: string;
  /** `success` | `failure` | `denied`. */
  outcome: string;
  entity_type: string | null;
  entity_id: string | null;
  /** JSON of the entity before and after the change (secrets redacted), or null. */
  before: string | null;
  after: string | null;
  /** JSON object of anything else worth keeping (a reason, a note), or null. */
  detail: string | null;
  /** The client's address as the API saw it. */
  address: string | null;
  /** The previous entry's hash (64 zeros for the first). */
  prev_hash: string;
  /** SHA-256 (hex) over prev_hash and this entry's canonical JSON. */
  hash: string;
}

/** An alert rule's current definition (migration 0004-alerts). */
export interface RulesTable {
  /** The rule id (RULE_ID_PATTERN). */
  id: string;
  /** 1 on creation, +1 on every write (update, enable, disable, delete). */
  version: number;
  /** `threshold` | `areaAggregate` | `event` | `status` | `noData`. */
  kind: string;
  /** JSON RuleDefinition (`@ioc/contracts`), as parsed (defaults applied); `enabled` mirrors the column. */
  definition: string;
  /** 1 enabled, 0 disabled. */
  enabled: number;
  /** `seed` | `api`. */
  origin: string;
  /**
   * SHA-256 (hex) of the canonical seed definition the seed loader last wrote, or null for a rule
   * written through REST: the loader updates a seed rule only while it is still what it wrote.
   */
  seed_digest: string | null;
  created_at: number;
  updated_at: number;
  /** Account id of the last writer; null for the seed loader. */
  updated_by: string | null;
  /** Soft deletion: the rule applies no more; its versions and alerts stay. */
  deleted_at: number | null;
}

/** Every version of every rule, append-only. */
export interface RuleVersionsTable {
  rule_id: string;
  version: number;
  /** JSON RuleDefinition of this version. */
  definition: string;
  /** `created` | `updated` | `enabled` | `disabled` | `deleted` | `seeded` | `reseeded` | `restored`. */
  change: string;
  changed_at: number;
  changed_by: string | null;
}

/** Alerts (`Alert` of the contracts), one row each; JSON columns as text. */
export interface AlertsTable {
  id: string;
  rule_id: string;
  rule_version: number;
  rule_kind: string;
  /** `device` | `area`. */
  subject_kind: string;
  subject_id: string;
  device_id: string | null;
  device_type: string | null;
  domain: string | null;
  area_id: string;
  /** JSON array of area ids, root first. */
  area_path: string;
  metric: string | null;
  event: string | null;
  severity: string;
  /** ALERT_STATES. */
  state: string;
  /** JSON of the value (number, boolean, string or null), or null. */
  value: string | null;
  /** The contracts' `limit` (a reserved word in SQL). */
  limit_value: number | null;
  unit: string;
  /** JSON `{vi, en}`. */
  message: string;
  pending_at: number;
  firing_at: number | null;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  acknowledgement_note: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  resolution: string | null;
  updated_at: number;
  /** Optimistic concurrency: +1 on every write; a write naming an older version is refused. */
  version: number;
}

/** Every step of every alert; `id` is the global commit order. */
export interface AlertTransitionsTable {
  id: Generated<number>;
  alert_id: string;
  seq: number;
  at: number;
  from_state: string | null;
  to_state: string;
  /** `opened` | `fired` | `escalated` | `acknowledged` | `resolved`. */
  kind: string;
  severity: string;
  /** JSON of the value, or null. */
  value: string | null;
  /** JSON TransitionActor. */
  actor: string;
  note: string | null;
  resolution: string | null;
}

/** Silences and maintenance windows: notifications of matching alerts are not sent in [starts_at, ends_at). */
export interface SilencesTable {
  id: string;
  /** JSON SilenceMatchers. */
  matchers: string;
  /** `silence` | `maintenance`. */
  reason: string;
  comment: string;
  starts_at: number;
  /** Exclusive; set to the end time when ended early. */
  ends_at: number;
  created_by: string | null;
  created_at: number;
  /** When it was ended early, or null. */
  ended_at: number | null;
  ended_by: string | null;
}

/** The durable position of each spool consumer (the alert engine: `alert-engine`). */
export interface ConsumerCursorsTable {
  name: string;
  /** The last spool record number processed. */
  position: number;
  /** JSON of the consumer's state as of `snapshot_position`, or null. */
  snapshot: string | null;
  snapshot_position: number | null;
  updated_at: number;
}

/** An agency's webhook endpoint (migration 0005-notifications). */
export interface WebhookEndpointsTable {
  /** `whe_…`. */
  id: string;
  agency_id: string;
  /** http(s) URL, checked against the SSRF guard when written and at every send. */
  url: string;
  description: string | null;
  /**
   * The Standard Webhooks secret (`whsec_…`), AES-256-GCM under the webhook secret key:
   * `v1.{iv b64}.{tag b64}.{ciphertext b64}`, the endpoint id as associated data.
   */
  secret_ciphertext: string;
  /** The secret's first characters (`whsec_AbCd`), to tell secrets apart in listings. */
  secret_hint: string;
  /** 1 / 0. */
  enabled: number;
  disabled_at: number | null;
  /** `gone` (the receiver answered 410) | `manual`. */
  disabled_reason: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  secret_rotated_at: number | null;
}

/** An agency's subscription to alerts (filters ∩ the agency's scope) and its channels. */
export interface SubscriptionsTable {
  /** `sub_…`. */
  id: string;
  agency_id: string;
  name: string;
  /** JSON SubscriptionFilters (`@ioc/contracts`). */
  filters: string;
  /** JSON array of webhook endpoint ids of the same agency. */
  webhook_endpoint_ids: string;
  /** 1: also publish on the agency's MQTT alert topic. */
  mqtt: number;
  /** `vi` | `en`. */
  language: string;
  group_wait_s: number;
  group_interval_s: number;
  repeat_interval_s: number;
  enabled: number;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

/** The notification policy's state of one group (subscription × group key). */
export interface NotificationGroupsTable {
  subscription_id: string;
  /** `{ruleId}|{areaId}`. */
  group_key: string;
  /** JSON GroupState (`@ioc/alerting` notify/notification-policy.ts). */
  state: string;
  /** When the group must next be looked at (a flush or a reminder), or null: nothing to do. */
  next_due_at: number | null;
  updated_at: number;
}

/** A notification: what one flush of one group sends (the same body on every channel and retry). */
export interface NotificationsTable {
  /** `msg_…`: the Standard Webhooks `webhook-id`, stable across retries and replays. */
  id: string;
  agency_id: string;
  subscription_id: string;
  group_key: string;
  /** NotificationType. */
  type: string;
  /** The NotificationBody JSON exactly as sent (signed bytes). */
  body: string;
  created_at: number;
}

/** The outbox: one notification to one channel target. */
export interface DeliveriesTable {
  /** Commit order: deliveries of one target go out in this order. */
  id: Generated<number>;
  notification_id: string;
  agency_id: string;
  /** `webhook` | `mqtt`. */
  channel: string;
  /** The webhook endpoint id, or the agency id (MQTT). */
  target_id: string;
  /** `{channel}:{target_id}`: the ordering key. */
  target_key: string;
  /** DeliveryState: `pending` | `retrying` | `delivered` | `failed` | `skipped`. */
  state: string;
  attempts: number;
  /** When the next attempt is due (pending, retrying), else null. */
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
  /** The worker (node) holding it while an attempt is under way, until `claimed_until`. */
  claimed_by: string | null;
  claimed_until: number | null;
  /** The delivery a manual replay copies, or null. */
  replay_of: number | null;
  created_at: number;
  updated_at: number;
}

/** One attempt of a delivery. */
export interface DeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  /** 1, 2, 3 … per delivery. */
  attempt: number;
  at: number;
  /** The HTTP status, or null when no answer came (refused, timed out, connection error). */
  status_code: number | null;
  error: string | null;
  latency_ms: number;
}

/** A named leader lease with its fencing token (migration 0006-leases). */
export interface LeasesTable {
  name: string;
  /** Who holds it (e.g. `broker-2:1a2b3c4d`: broker id and a per-process suffix). */
  holder: string;
  /** Fencing token: +1 on every acquisition of a new term; a commit names the one it holds. */
  token: number;
  /** Epoch ms on the database's clock; the lease is free from then on (0: released). */
  expires_at: number;
  /** Epoch ms (database clock) when the current term began. */
  acquired_at: number;
}

/** A server key's fingerprint (migration 0007-key-fingerprints): never the key itself. */
export interface KeyFingerprintsTable {
  /** Which key: `device-credential` (IOC_DEVICE_CREDENTIAL_KEY). */
  name: string;
  /** HMAC-SHA256 of a fixed label under the key, 64 lowercase hex digits. */
  fingerprint: string;
  /** Epoch ms when this fingerprint was recorded (first start, or after a key change). */
  recorded_at: number;
}
