import { randomBytes } from 'node:crypto';
import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import {
  type Area,
  type Device,
  type DeviceState,
  type DeviceType,
  type Domain,
  domainOf,
  isDeviceType,
} from '@ioc/contracts';
import {
  type AreasTable,
  type DatabaseSchema,
  type DeviceCredentialsTable,
  type DevicesTable,
  transaction,
} from '@ioc/database';
import { deviceSecretHint, generateDeviceSecret, hashDeviceSecret } from './device-secrets';
import { MAX_DEVICE_ATTRIBUTES } from './seed-schemas';
import type { SeedData } from './seed-validation';

/** What went wrong with a registry write, for REST's 400/404/409. */
export type RegistryErrorCode = 'invalid' | 'not-found' | 'conflict';

/** A refused registry write: `code` maps to 400 (invalid), 404 (not-found), 409 (conflict). */
export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    /** The field at fault, when one is (`areaId`, `parentId`, `type`, …). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Life-cycle transitions a device may make (retired is final). */
const STATE_TRANSITIONS: Record<DeviceState, readonly DeviceState[]> = {
  active: ['suspended', 'retired'],
  suspended: ['active', 'retired'],
  retired: [],
};

/** A device credential as listed: never the secret, never its hash. */
export interface DeviceCredentialInfo {
  id: string;
  deviceId: string;
  /** The secret's first characters (deviceSecretHint). */
  hint: string;
  createdAt: string;
  /** End of the rotation grace period, ISO-8601, when one was set. */
  notAfter?: string;
  revokedAt?: string;
  /** `active`, `expiring` (in its grace period), `expired` or `revoked`, at the time of the call. */
  status: 'active' | 'expiring' | 'expired' | 'revoked';
}

/** The answer to issuing a credential: the secret, shown this once. */
export interface IssuedCredential {
  credential: DeviceCredentialInfo;
  secret: string;
}

/** What the broker keeps of a credential to check a CONNECT (unrevoked ones only). */
export interface CredentialHashEntry {
  id: string;
  /** HMAC-SHA256 of the secret, 32 bytes. */
  hash: Buffer;
  /** Epoch ms after which it is refused; absent: no end. */
  notAfter?: number;
}

export interface DeviceListFilter {
  domain?: Domain;
  type?: DeviceType;
  /** The area and its whole subtree. */
  areaId?: string;
  state?: DeviceState;
  /** Case-insensitive substring of the id or the name. */
  q?: string;
}

export interface DevicePage {
  items: Device[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * Which of a device's optional fields an import row gives (the CSV has the column; the GeoJSON
 * feature has the property). A field the row does not give keeps its stored value; a field it gives
 * empty (a CSV empty cell, a GeoJSON `null`) is cleared.
 */
export interface ImportRowFields {
  /** The row gives `silenceTimeoutSeconds`: the device's value is stored, or none (cleared) when it has none. */
  silenceTimeoutSeconds: boolean;
  /**
   * Attribute names the row gives: each is set to the device's value, or removed when the device
   * has none; stored attributes the row does not name are kept.
   */
  attributes: readonly string[];
  /** The row clears the stored attributes before setting its own (GeoJSON `"attributes": null`). */
  replaceAttributes?: boolean;
}

/**
 * One row of an import, after parsing (CSV or GeoJSON): a device, or why its row is unusable.
 * `fields` (from the file formats) makes an update merge the row into the stored device (see
 * ImportRowFields); without it (seeds) the row replaces the stored device whole. A row without a
 * `state` keeps the stored one either way.
 */
export type ImportRow =
  { row: number; device: Device; fields?: ImportRowFields } | { row: number; error: string; id?: string };

/** Per-row outcome of an import. */
export interface ImportRowResult {
  /** 1-based row (CSV: line of the data row; GeoJSON: feature index + 1). */
  row: number;
  id?: string;
  outcome: 'created' | 'updated' | 'unchanged' | 'refused';
  reason?: string;
  /**
   * An updated row: the fields it changes, sorted (`areaId`, `attributes.<name>`, `location`,
   * `name`, `silenceTimeoutSeconds`, `state`).
   */
  changed?: string[];
}

export interface ImportReport {
  created: number;
  updated: number;
  unchanged: number;
  refused: number;
  rows: ImportRowResult[];
}

/** One entry of the registry's change log. */
export interface RegistryChange {
  seq: number;
  at: number;
  /**
   * `rule` (an alert rule written: created, updated, enabled, disabled, deleted, seeded) and
   * `alert` (a person acknowledged or resolved an alert) are not the registry's own: RegistrySync
   * passes them to its `onChanges` consumer (the broker's alert engine reloads the rule or alert).
   */
  entity: 'area' | 'device' | 'credential' | 'agency' | 'rule' | 'alert';
  /** The area, device, agency, rule or alert id (for a credential: its device's id). */
  entityId: string;
  action: string;
}

export interface AreaInput {
  id: string;
  name: string;
  level: string;
  parentId: string | null;
  location?: { lat: number; lon: number };
  note?: string;
}

export type AreaPatch = Partial<Omit<AreaInput, 'id'>>;
/** A device update: null clears `attributes` or `silenceTimeoutSeconds` (an intersection with Device's own types would forbid null). */
export type DevicePatch = Partial<Pick<Device, 'name' | 'areaId' | 'location'>> & {
  silenceTimeoutSeconds?: number | null;
  attributes?: Record<string, string> | null;
};

type DeviceRow = Selectable<DevicesTable>;
type AreaRow = Selectable<AreasTable>;
type CredentialRow = Selectable<DeviceCredentialsTable>;

/**
 * The registry in the database: areas, devices and device credentials, with every write
 * validated, recorded in the change log (`registry_changes`) in the same transaction, and
 * refused with a RegistryError naming what is wrong. Works on SQLite and PostgreSQL alike.
 */
export class RegistryRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: () => number = Date.now,
  ) {}

  // ---- areas -------------------------------------------------------------------------------

  async listAreas(): Promise<Area[]> {
    const rows = await this.db.selectFrom('areas').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toArea);
  }

  async getArea(id: string): Promise<Area | undefined> {
    const row = await this.db.selectFrom('areas').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toArea(row) : undefined;
  }

  /** @throws RegistryError conflict (id taken, or a second root), not-found (parent) */
  async createArea(input: AreaInput): Promise<Area> {
    return conflictOnDuplicate(`area "${input.id}" already exists`, () => this.insertArea(input));
  }

  private insertArea(input: AreaInput): Promise<Area> {
    return transaction(this.db, async (trx) => {
      if (await trx.selectFrom('areas').select('id').where('id', '=', input.id).executeTakeFirst()) {
        throw new RegistryError('conflict', `area "${input.id}" already exists`, 'id');
      }
      await this.checkParent(trx, input.id, input.parentId);
      const now = this.clock();
      await trx
        .insertInto('areas')
        .values(areaRow(input, now, now))
        .execute();
      await this.logChange(trx, 'area', input.id, 'created', now);
      return toArea(areaRow(input, now, now));
    });
  }

  /**
   * Renames or moves an area (its devices follow: their area path is derived from the tree).
   * @throws RegistryError not-found, conflict (a move under its own subtree, or making a second root)
   */
  async updateArea(id: string, patch: AreaPatch): Promise<Area> {
    return transaction(this.db, async (trx) => {
      const current = await trx.selectFrom('areas').selectAll().where('id', '=', id).executeTakeFirst();
      if (!current) throw new RegistryError('not-found', `no area "${id}"`);
      const next: AreaInput = { ...toArea(current), ...stripUndefined(patch) };
      const moved = patch.parentId !== undefined && patch.parentId !== current.parent_id;
      if (moved) await this.checkParent(trx, id, patch.parentId as string | null);
      const now = this.clock();
      const row = areaRow(next, current.created_at, now);
      await trx.updateTable('areas').set(row).where('id', '=', id).execute();
      await this.logChange(trx, 'area', id, moved ? 'moved' : 'updated', now);
      return toArea(row);
    });
  }

  private async checkParent(trx: Kysely<DatabaseSchema>, id: string, parentId: string | null): Promise<void> {
    if (parentId === null) {
      const root = await trx
        .selectFrom('areas')
        .select('id')
        .where('parent_id', 'is', null)
        .where('id', '!=', id)
        .executeTakeFirst();
      if (root) throw new RegistryError('conflict', `the tree already has a root ("${root.id}")`, 'parentId');
      return;
    }
    const parents = new Map(
      (await trx.selectFrom('areas').select(['id', 'parent_id']).execute()).map((a) => [a.id, a.parent_id]),
    );
    if (!parents.has(parentId))
      throw new RegistryError('not-found', `no parent area "${parentId}"`, 'parentId');
    // Walk up from the new parent: meeting `id` means the move would make a cycle.
    for (let at: string | null | undefined = parentId; at != null; at = parents.get(at)) {
      if (at === id) {
        throw new RegistryError(
          'conflict',
          `area "${id}" cannot move under its own subtree ("${parentId}")`,
          'parentId',
        );
      }
    }
  }

  // ---- devices -----------------------------------------------------------------------------

  async getDevice(id: string): Promise<Device | undefined> {
    const row = await this.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toDevice(row) : undefined;
  }

  /** Every device, in id order (for the in-memory registry and exports). */
  async allDevices(): Promise<Device[]> {
    return (await this.db.selectFrom('devices').selectAll().orderBy('id').execute()).map(toDevice);
  }

  async devicesByIds(ids: readonly string[]): Promise<Device[]> {
    const found: Device[] = [];
    // Chunks of 500 keep each IN list well under SQLite's 32,766 bound-parameter limit.
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom('devices')
        .selectAll()
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
      found.push(...rows.map(toDevice));
    }
    return found;
  }

  /** Devices matching the filter, by id, `limit` (1–1000) from `offset`, with the total count. */
  async listDevices(filter: DeviceListFilter, page: { limit: number; offset: number }): Promise<DevicePage> {
    let areaIds: string[] | undefined;
    if (filter.areaId !== undefined) {
      const areas = await this.listAreas();
      if (!areas.some((a) => a.id === filter.areaId)) {
        throw new RegistryError('not-found', `no area "${filter.areaId}"`, 'areaId');
      }
      areaIds = subtree(areas, filter.areaId);
    }
    let query = this.db.selectFrom('devices');
    if (filter.domain !== undefined) query = query.where('domain', '=', filter.domain);
    if (filter.type !== undefined) query = query.where('type', '=', filter.type);
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (areaIds !== undefined) query = query.where('area_id', 'in', areaIds);
    if (filter.q !== undefined && filter.q !== '') {
      const pattern = `%${filter.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      // ESCAPE names the escape character: SQLite has none by default (PostgreSQL's is `\`), so
      // without it a `_` or `%` in the search matched any character there.
      query = query.where(
        sql<SqlBool>`(lower(id) like ${pattern} escape '\\' or lower(name) like ${pattern} escape '\\')`,
      );
    }
    const { total } = await query
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .executeTakeFirstOrThrow();
    const rows = await query.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute();
    return { items: rows.map(toDevice), total: Number(total), limit: page.limit, offset: page.offset };
  }

  /**
   * Registers a device (state `active` unless given).
   * @throws RegistryError conflict (id taken, or an id that differs from a registered one only in
   *   case: `SL-1` beside `sl-1` would be two devices no operator tells apart), invalid (domain
   *   does not match the type), not-found (area)
   */
  async createDevice(device: Device): Promise<Device> {
    return conflictOnDuplicate(`device "${device.id}" already exists`, () => this.insertDevice(device));
  }

  private insertDevice(device: Device): Promise<Device> {
    return transaction(this.db, async (trx) => {
      // lower(): ids are ASCII (DEVICE_ID_PATTERN), so both databases fold them alike.
      const taken = await trx
        .selectFrom('devices')
        .select('id')
        .where(sql<string>`lower(id)`, '=', device.id.toLowerCase())
        .executeTakeFirst();
      if (taken?.id === device.id) {
        throw new RegistryError('conflict', `device "${device.id}" already exists`, 'id');
      }
      if (taken) throw new RegistryError('conflict', differsInCase(device.id, taken.id), 'id');
      await this.checkDevice(trx, device);
      const now = this.clock();
      const row = deviceRow({ state: 'active', ...device }, now, now);
      await trx.insertInto('devices').values(row).execute();
      await this.logChange(trx, 'device', device.id, 'created', now);
      return toDevice(row);
    });
  }

  /**
   * Changes a device's name, area, location, attributes or silence timeout (its id, type and
   * domain are fixed: they are in its topics and its history).
   * @throws RegistryError not-found (device or area)
   */
  async updateDevice(id: string, patch: DevicePatch): Promise<Device> {
    return transaction(this.db, async (trx) => {
      const current = await trx.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
      if (!current) throw new RegistryError('not-found', `no device "${id}"`);
      const base = toDevice(current);
      const next: Device = { ...base, ...stripUndefined(patch) } as Device;
      if (patch.attributes === null) delete next.attributes;
      if (patch.silenceTimeoutSeconds === null) delete next.silenceTimeoutSeconds;
      await this.checkDevice(trx, next);
      const now = this.clock();
      const row = deviceRow(next, current.created_at, now);
      await trx.updateTable('devices').set(row).where('id', '=', id).execute();
      await this.logChange(trx, 'device', id, 'updated', now);
      return toDevice(row);
    });
  }

  /**
   * Suspends, resumes (`active`) or retires a device. Suspending or retiring one ends its live
   * sessions (the broker acts on the change log's `suspended` / `retired`); retiring also revokes
   * every credential it has.
   * @throws RegistryError not-found, conflict (a transition the life cycle does not allow)
   */
  async setDeviceState(id: string, state: DeviceState): Promise<Device> {
    return transaction(this.db, async (trx) => {
      const current = await trx.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
      if (!current) throw new RegistryError('not-found', `no device "${id}"`);
      const from = current.state as DeviceState;
      if (from === state) return toDevice(current);
      if (!STATE_TRANSITIONS[from].includes(state)) {
        throw new RegistryError('conflict', `device "${id}" is ${from}: it cannot become ${state}`, 'state');
      }
      const now = this.clock();
      await trx.updateTable('devices').set({ state, updated_at: now }).where('id', '=', id).execute();
      await this.logChange(trx, 'device', id, state === 'active' ? 'resumed' : state, now);
      if (state === 'retired') {
        // Retired is final: its credentials can never be used again, and the listing says so.
        const revoked = await trx
          .updateTable('device_credentials')
          .set({ revoked_at: now })
          .where('device_id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(revoked.numUpdatedRows) > 0) await this.logChange(trx, 'credential', id, 'revoked', now);
      }
      return toDevice({ ...current, state, updated_at: now });
    });
  }

  private async checkDevice(trx: Kysely<DatabaseSchema>, device: Device): Promise<void> {
    if (!isDeviceType(device.type))
      throw new RegistryError('invalid', `unknown device type "${device.type}"`, 'type');
    const expected = domainOf(device.type);
    if (device.domain !== expected) {
      throw new RegistryError(
        'invalid',
        `domain "${device.domain}" does not match type "${device.type}" (domain "${expected}")`,
        'domain',
      );
    }
    if (!(await trx.selectFrom('areas').select('id').where('id', '=', device.areaId).executeTakeFirst())) {
      throw new RegistryError('not-found', `no area "${device.areaId}"`, 'areaId');
    }
  }

  /**
   * Creates or updates devices from an import, row by row: a bad row is refused with its reason
   * and never stops the good ones; a row equal to what is stored changes nothing (so the same file
   * imported twice reports every row `unchanged`). A device id twice in one file, or an id that
   * differs from a registered one (or one earlier in the file) only in case: that row is refused.
   * One transaction for the whole file.
   * @param onProgress called each time the rows settled pass a multiple of 1000, and at the end
   * @param options.dryRun report what the import would do and store nothing (rolled back)
   */
  async importDevices(
    rows: readonly ImportRow[],
    onProgress?: (done: number) => void,
    options: { dryRun?: boolean } = {},
  ): Promise<ImportReport> {
    if (options.dryRun) return this.previewImport(rows, onProgress);
    return transaction(this.db, async (trx) => {
      const areaIds = new Set((await trx.selectFrom('areas').select('id').execute()).map((a) => a.id));
      const existing = new Map<string, DeviceRow>();
      const ids = rows.flatMap((r) => ('device' in r ? [r.device.id] : []));
      for (let i = 0; i < ids.length; i += 500) {
        for (const row of await trx
          .selectFrom('devices')
          .selectAll()
          .where('id', 'in', ids.slice(i, i + 500))
          .execute()) {
          existing.set(row.id, row);
        }
      }
      // Every registered id by its lower case: an id differing from one only in case is refused.
      const byLowerId = new Map(
        (await trx.selectFrom('devices').select('id').execute()).map((d) => [d.id.toLowerCase(), d.id]),
      );
      const seen = new Map<string, string>();
      const report: ImportReport = { created: 0, updated: 0, unchanged: 0, refused: 0, rows: [] };
      const refuse = (row: number, reason: string, id?: string): void => {
        report.refused++;
        report.rows.push({ row, ...(id === undefined ? {} : { id }), outcome: 'refused', reason });
      };
      const now = this.clock();
      const inserts: DeviceRow[] = [];
      // Progress counts the rows settled (refused, unchanged, updated, or inserted), reported each
      // time it passes a multiple of 1000; new devices are inserted in chunks after the loop.
      let reported = 0;
      const progress = (settled: number): void => {
        if (Math.floor(settled / 1000) > Math.floor(reported / 1000)) {
          reported = settled;
          onProgress?.(settled);
        }
      };
      for (const entry of rows) {
        progress(report.rows.length - report.created);
        if ('error' in entry) {
          refuse(entry.row, entry.error, entry.id);
          continue;
        }
        const { device, row } = entry;
        const lowerId = device.id.toLowerCase();
        const earlier = seen.get(lowerId);
        if (earlier !== undefined) {
          refuse(
            row,
            earlier === device.id
              ? `device "${device.id}" appears earlier in the same file`
              : `${differsInCase(device.id, earlier)}, earlier in the same file`,
            device.id,
          );
          continue;
        }
        seen.set(lowerId, device.id);
        const registered = byLowerId.get(lowerId);
        if (registered !== undefined && registered !== device.id) {
          refuse(row, differsInCase(device.id, registered), device.id);
          continue;
        }
        const expected = isDeviceType(device.type) ? domainOf(device.type) : undefined;
        if (expected === undefined) {
          refuse(row, `unknown device type "${device.type}"`, device.id);
          continue;
        }
        if (device.domain !== expected) {
          refuse(
            row,
            `domain "${device.domain}" does not match type "${device.type}" (domain "${expected}")`,
            device.id,
          );
          continue;
        }
        if (!areaIds.has(device.areaId)) {
          refuse(row, `no area "${device.areaId}"`, device.id);
          continue;
        }
        const current = existing.get(device.id);
        if (!current) {
          inserts.push(deviceRow({ state: 'active', ...device }, now, now));
          report.created++;
          report.rows.push({ row, id: device.id, outcome: 'created' });
          continue;
        }
        if (current.type !== device.type) {
          refuse(
            row,
            `device "${device.id}" is a ${current.type}: its type cannot change to ${device.type}`,
            device.id,
          );
          continue;
        }
        const stored = toDevice(current);
        const merged = mergeImportRow(stored, entry);
        if (Object.keys(merged.attributes ?? {}).length > MAX_DEVICE_ATTRIBUTES) {
          refuse(
            row,
            `attributes: ${Object.keys(merged.attributes ?? {}).length} with the stored ones: at most ${MAX_DEVICE_ATTRIBUTES}`,
            device.id,
          );
          continue;
        }
        const next = deviceRow(merged, current.created_at, now);
        if (sameDevice(current, next)) {
          report.unchanged++;
          report.rows.push({ row, id: device.id, outcome: 'unchanged' });
          continue;
        }
        if (
          next.state !== current.state &&
          !STATE_TRANSITIONS[current.state as DeviceState].includes(next.state as DeviceState)
        ) {
          refuse(row, `device "${device.id}" is ${current.state}: it cannot become ${next.state}`, device.id);
          continue;
        }
        await trx.updateTable('devices').set(next).where('id', '=', device.id).execute();
        await this.logChange(
          trx,
          'device',
          device.id,
          next.state !== current.state ? stateAction(next.state) : 'updated',
          now,
        );
        report.updated++;
        report.rows.push({ row, id: device.id, outcome: 'updated', changed: changedFields(stored, merged) });
      }
      // Inserts in chunks: one statement per 100 rows (11 columns each) instead of one per row.
      const settledBeforeInserts = report.rows.length - report.created;
      for (let i = 0; i < inserts.length; i += 100) {
        const chunk = inserts.slice(i, i + 100);
        await trx.insertInto('devices').values(chunk).execute();
        await trx
          .insertInto('registry_changes')
          .values(chunk.map((d) => ({ at: now, entity: 'device', entity_id: d.id, action: 'created' })))
          .execute();
        progress(settledBeforeInserts + i + chunk.length);
      }
      onProgress?.(rows.length);
      report.rows.sort((a, b) => a.row - b.row);
      return report;
    });
  }

  /**
   * What importDevices would report, without storing anything: the same checks in a transaction
   * that is rolled back.
   */
  private async previewImport(
    rows: readonly ImportRow[],
    onProgress?: (done: number) => void,
  ): Promise<ImportReport> {
    let report: ImportReport | undefined;
    const rollback = new Error('dry run: rolled back');
    try {
      await this.db.transaction().execute(async (trx) => {
        report = await new RegistryRepository(trx, this.clock).importDevices(rows, onProgress);
        throw rollback;
      });
    } catch (error) {
      if (error !== rollback) throw error;
    }
    return report as ImportReport;
  }

  /**
   * The first start's seeding: areas parents first, then devices, through the same paths as a
   * user's import. Areas already present are left as they are.
   */
  async importSeeds(seeds: SeedData): Promise<ImportReport> {
    return transaction(this.db, async (trx) => {
      const repo = new RegistryRepository(trx, this.clock);
      const present = new Set((await trx.selectFrom('areas').select('id').execute()).map((a) => a.id));
      for (const area of parentsFirst(seeds.areas)) {
        if (!present.has(area.id)) await repo.createArea(area);
      }
      return repo.importDevices(seeds.devices.map((device, i) => ({ row: i + 1, device })));
    });
  }

  // ---- credentials -------------------------------------------------------------------------

  /**
   * Issues a new secret for a device (shown once in the answer). Credentials the device already
   * has stay valid for `graceMs` more (rotation: the device switches over meanwhile), then are
   * refused; `graceMs = 0` ends them at once; `null` leaves them as they are (an extra credential,
   * e.g. a second gateway or the demo set-up's).
   * @throws RegistryError not-found, conflict (a retired device gets no credentials)
   */
  async issueCredential(
    deviceId: string,
    options: { key: Buffer; graceMs: number | null },
  ): Promise<IssuedCredential> {
    return transaction(this.db, async (trx) => {
      const device = await trx
        .selectFrom('devices')
        .select(['id', 'state'])
        .where('id', '=', deviceId)
        .executeTakeFirst();
      if (!device) throw new RegistryError('not-found', `no device "${deviceId}"`);
      if (device.state === 'retired')
        throw new RegistryError('conflict', `device "${deviceId}" is retired`, 'state');
      const now = this.clock();
      if (options.graceMs !== null) {
        const graceEnd = now + Math.max(0, options.graceMs);
        await trx
          .updateTable('device_credentials')
          .set({ not_after: graceEnd })
          .where('device_id', '=', deviceId)
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('not_after', 'is', null), eb('not_after', '>', graceEnd)]))
          .execute();
      }
      const secret = generateDeviceSecret();
      const row: CredentialRow = {
        id: `cred_${randomBytes(9).toString('base64url')}`,
        device_id: deviceId,
        secret_hash: hashDeviceSecret(options.key, secret).toString('hex'),
        hint: deviceSecretHint(secret),
        created_at: now,
        not_after: null,
        revoked_at: null,
      };
      await trx.insertInto('device_credentials').values(row).execute();
      await this.logChange(trx, 'credential', deviceId, 'issued', now);
      return { credential: toCredentialInfo(row, now), secret };
    });
  }

  async listCredentials(deviceId: string): Promise<DeviceCredentialInfo[]> {
    if (!(await this.getDevice(deviceId))) throw new RegistryError('not-found', `no device "${deviceId}"`);
    const now = this.clock();
    const rows = await this.db
      .selectFrom('device_credentials')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => toCredentialInfo(row, now));
  }

  /**
   * Revokes one credential of a device, or all of them (`credentialId` undefined). Revoked
   * credentials are refused at once and the device's live sessions are closed.
   * @returns how many were revoked
   * @throws RegistryError not-found (device, or that credential of that device)
   */
  async revokeCredentials(deviceId: string, credentialId?: string): Promise<number> {
    return transaction(this.db, async (trx) => {
      if (!(await trx.selectFrom('devices').select('id').where('id', '=', deviceId).executeTakeFirst())) {
        throw new RegistryError('not-found', `no device "${deviceId}"`);
      }
      let query = trx.selectFrom('device_credentials').select('id').where('device_id', '=', deviceId);
      if (credentialId !== undefined) query = query.where('id', '=', credentialId);
      const found = await query.execute();
      if (credentialId !== undefined && found.length === 0) {
        throw new RegistryError('not-found', `device "${deviceId}" has no credential "${credentialId}"`);
      }
      const now = this.clock();
      let update = trx
        .updateTable('device_credentials')
        .set({ revoked_at: now })
        .where('device_id', '=', deviceId)
        .where('revoked_at', 'is', null);
      if (credentialId !== undefined) update = update.where('id', '=', credentialId);
      const result = await update.executeTakeFirst();
      const revoked = Number(result.numUpdatedRows);
      if (revoked > 0) await this.logChange(trx, 'credential', deviceId, 'revoked', now);
      return revoked;
    });
  }

  /** Unrevoked credential hashes of the given devices (all devices when `deviceIds` is undefined). */
  async credentialHashes(deviceIds?: readonly string[]): Promise<Map<string, CredentialHashEntry[]>> {
    const result = new Map<string, CredentialHashEntry[]>();
    const load = async (ids?: readonly string[]): Promise<void> => {
      let query = this.db
        .selectFrom('device_credentials')
        .select(['id', 'device_id', 'secret_hash', 'not_after'])
        .where('revoked_at', 'is', null)
        .orderBy('created_at')
        .orderBy('id');
      if (ids !== undefined) query = query.where('device_id', 'in', ids);
      for (const row of await query.execute()) {
        const list = result.get(row.device_id) ?? [];
        list.push({
          id: row.id,
          hash: Buffer.from(row.secret_hash, 'hex'),
          ...(row.not_after === null ? {} : { notAfter: row.not_after }),
        });
        result.set(row.device_id, list);
      }
    };
    if (deviceIds === undefined) await load();
    else for (let i = 0; i < deviceIds.length; i += 500) await load(deviceIds.slice(i, i + 500));
    return result;
  }

  /**
   * The MQTT accounts of agencies (those with an `mqtt_secret_hash`), by agency id: all of them,
   * or those of `agencyIds` (an agency absent from the answer has no MQTT account, or no longer
   * exists). Disabled agencies are included (`active: false`), so the broker can answer their right
   * secret with "not authorized" as it does for a suspended device.
   */
  async agencyMqttAccounts(agencyIds?: readonly string[]): Promise<Map<string, AgencyMqttCredential>> {
    const result = new Map<string, AgencyMqttCredential>();
    const load = async (ids?: readonly string[]): Promise<void> => {
      let query = this.db
        .selectFrom('agencies')
        .select(['id', 'state', 'mqtt_secret_hash'])
        .where('mqtt_secret_hash', 'is not', null);
      if (ids !== undefined) query = query.where('id', 'in', ids);
      for (const row of await query.execute()) {
        result.set(row.id, {
          hash: Buffer.from(row.mqtt_secret_hash as string, 'hex'),
          active: row.state === 'active',
        });
      }
    };
    if (agencyIds === undefined) await load();
    else for (let i = 0; i < agencyIds.length; i += 500) await load(agencyIds.slice(i, i + 500));
    return result;
  }

  // ---- change log --------------------------------------------------------------------------

  /** The newest change's sequence number (0 for an empty log). */
  async latestChangeSeq(): Promise<number> {
    const row = await this.db
      .selectFrom('registry_changes')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  /** Changes after `seq`, oldest first, at most `limit`. */
  async changesSince(seq: number, limit = 10_000): Promise<RegistryChange[]> {
    const rows = await this.db
      .selectFrom('registry_changes')
      .selectAll()
      .where('seq', '>', seq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: r.at,
      entity: r.entity as RegistryChange['entity'],
      entityId: r.entity_id,
      action: r.action,
    }));
  }

  private async logChange(
    trx: Kysely<DatabaseSchema>,
    entity: RegistryChange['entity'],
    entityId: string,
    action: string,
    at: number,
  ): Promise<void> {
    await appendRegistryChange(trx, { entity, entityId, action, at });
  }
}

/**
 * An agency's MQTT account as the broker checks it: the keyed hash of its secret
 * (`hashDeviceSecret(key, secret)`, HMAC-SHA256 under the credential key, 32 bytes — stored hex in
 * `agencies.mqtt_secret_hash`) and whether the agency is active.
 */
export interface AgencyMqttCredential {
  hash: Buffer;
  active: boolean;
}

/**
 * Appends one entry to the registry's change log, in the caller's transaction (`trx`), so every
 * process's RegistrySync applies the write within its poll bound. Writers outside this repository
 * call it too: an agency write (create, update, disable, MQTT secret issued or removed) appends
 * `{entity: 'agency', entityId: agencyId, action}`, so running brokers pick up a rotated or revoked
 * MQTT secret and a disabled agency (then publish INTERNAL_REGISTRY_CHANGES_TOPIC, as registry
 * writes do, to have them apply it at once rather than at the next poll).
 *
 * @param change.at epoch milliseconds
 */
export async function appendRegistryChange(
  trx: Kysely<DatabaseSchema>,
  change: Omit<RegistryChange, 'seq'>,
): Promise<void> {
  await trx
    .insertInto('registry_changes')
    .values({ at: change.at, entity: change.entity, entity_id: change.entityId, action: change.action })
    .execute();
}

/**
 * Runs a creation; a uniqueness violation — another transaction inserted the same id, or one
 * differing only in case (index devices_id_lower), between this one's existence check and its
 * insert (PostgreSQL's READ COMMITTED allows it) — becomes the same 409 as a taken id.
 * PostgreSQL SQLSTATE 23505 unique_violation; SQLite SQLITE_CONSTRAINT_PRIMARYKEY or
 * SQLITE_CONSTRAINT_UNIQUE (its writes are serialized, so it is a safeguard there).
 */
async function conflictOnDuplicate<T>(message: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new RegistryError('conflict', message, 'id');
    }
    throw error;
  }
}

/** The refusal of a device id equal, ignoring case, to another device's. */
function differsInCase(id: string, other: string): string {
  return `device id "${id}" differs only in case from the device "${other}"`;
}

function stateAction(state: string): string {
  return state === 'active' ? 'resumed' : state;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function areaRow(area: AreaInput, createdAt: number, updatedAt: number): AreaRow {
  return {
    id: area.id,
    name: area.name,
    level: area.level,
    parent_id: area.parentId,
    lat: area.location?.lat ?? null,
    lon: area.location?.lon ?? null,
    note: area.note ?? null,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

function toArea(row: AreaRow): Area {
  return {
    id: row.id,
    name: row.name,
    level: row.level,
    parentId: row.parent_id,
    ...(row.lat !== null && row.lon !== null ? { location: { lat: row.lat, lon: row.lon } } : {}),
    ...(row.note !== null ? { note: row.note } : {}),
  };
}

function deviceRow(device: Device, createdAt: number, updatedAt: number): DeviceRow {
  const attributes =
    device.attributes && Object.keys(device.attributes).length > 0 ? device.attributes : undefined;
  return {
    id: device.id,
    type: device.type,
    domain: device.domain,
    name: device.name,
    area_id: device.areaId,
    lat: device.location.lat,
    lon: device.location.lon,
    // Keys sorted, so equal attributes give equal text (an unchanged re-import compares equal).
    attributes: attributes ? JSON.stringify(Object.fromEntries(Object.entries(attributes).sort())) : null,
    state: device.state ?? 'active',
    silence_timeout_seconds: device.silenceTimeoutSeconds ?? null,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    type: row.type as DeviceType,
    domain: row.domain as Domain,
    name: row.name,
    areaId: row.area_id,
    location: { lat: row.lat, lon: row.lon },
    ...(row.attributes !== null ? { attributes: JSON.parse(row.attributes) as Record<string, string> } : {}),
    state: row.state as DeviceState,
    ...(row.silence_timeout_seconds !== null ? { silenceTimeoutSeconds: row.silence_timeout_seconds } : {}),
  };
}

const COMPARED_COLUMNS = [
  'name',
  'area_id',
  'lat',
  'lon',
  'attributes',
  'state',
  'silence_timeout_seconds',
] as const;

/**
 * The device an import row makes of a stored one: the row's fields, with the state kept when the
 * row has none and, when the row says which optional fields it gives (ImportRowFields), the stored
 * silence timeout kept when it is not given and the attributes merged name by name.
 */
function mergeImportRow(stored: Device, entry: { device: Device; fields?: ImportRowFields }): Device {
  const { device, fields } = entry;
  const merged: Device = { ...device, state: device.state ?? stored.state ?? 'active' };
  if (fields === undefined) return merged;
  if (!fields.silenceTimeoutSeconds) {
    delete merged.silenceTimeoutSeconds;
    if (stored.silenceTimeoutSeconds !== undefined)
      merged.silenceTimeoutSeconds = stored.silenceTimeoutSeconds;
  }
  const attributes = new Map(fields.replaceAttributes ? [] : Object.entries(stored.attributes ?? {}));
  const given = device.attributes ?? {};
  for (const name of fields.attributes) {
    if (Object.hasOwn(given, name)) attributes.set(name, given[name] as string);
    else attributes.delete(name);
  }
  delete merged.attributes;
  if (attributes.size > 0) merged.attributes = Object.fromEntries(attributes);
  return merged;
}

/** Fields that differ between two versions of a device, sorted; attributes by name (`attributes.road`). */
function changedFields(before: Device, after: Device): string[] {
  const changed: string[] = [];
  if (before.name !== after.name) changed.push('name');
  if (before.areaId !== after.areaId) changed.push('areaId');
  if (before.location.lat !== after.location.lat || before.location.lon !== after.location.lon) {
    changed.push('location');
  }
  if ((before.state ?? 'active') !== (after.state ?? 'active')) changed.push('state');
  if (before.silenceTimeoutSeconds !== after.silenceTimeoutSeconds) changed.push('silenceTimeoutSeconds');
  const a = before.attributes ?? {};
  const b = after.attributes ?? {};
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const was = Object.hasOwn(a, name) ? a[name] : undefined;
    const is = Object.hasOwn(b, name) ? b[name] : undefined;
    if (was !== is) changed.push(`attributes.${name}`);
  }
  return changed.sort();
}

function sameDevice(a: DeviceRow, b: DeviceRow): boolean {
  return COMPARED_COLUMNS.every((column) => a[column] === b[column]);
}

function toCredentialInfo(row: CredentialRow, now: number): DeviceCredentialInfo {
  const status: DeviceCredentialInfo['status'] =
    row.revoked_at !== null
      ? 'revoked'
      : row.not_after === null
        ? 'active'
        : row.not_after > now
          ? 'expiring'
          : 'expired';
  return {
    id: row.id,
    deviceId: row.device_id,
    hint: row.hint,
    createdAt: new Date(row.created_at).toISOString(),
    ...(row.not_after !== null ? { notAfter: new Date(row.not_after).toISOString() } : {}),
    ...(row.revoked_at !== null ? { revokedAt: new Date(row.revoked_at).toISOString() } : {}),
    status,
  };
}

/** The area and every area below it. */
export function subtree(areas: readonly Area[], rootId: string): string[] {
  const children = new Map<string, string[]>();
  for (const area of areas) {
    if (area.parentId !== null)
      children.set(area.parentId, [...(children.get(area.parentId) ?? []), area.id]);
  }
  const result: string[] = [];
  const stack = [rootId];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    result.push(id);
    stack.push(...(children.get(id) ?? []));
  }
  return result;
}

function parentsFirst(areas: readonly Area[]): Area[] {
  const byId = new Map(areas.map((a) => [a.id, a]));
  const ordered: Area[] = [];
  const placed = new Set<string>();
  const place = (area: Area): void => {
    if (placed.has(area.id)) return;
    const parent = area.parentId === null ? undefined : byId.get(area.parentId);
    if (parent) place(parent);
    placed.add(area.id);
    ordered.push(area);
  };
  areas.forEach(place);
  return ordered;
}
