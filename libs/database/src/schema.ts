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
  /** `area` | `device` | `credential`. */
  entity: string;
  entity_id: string;
  /** What happened, e.g. `created`, `updated`, `suspended`, `revoked`. */
  action: string;
}
