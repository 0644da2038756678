import { DatabaseTaskLog } from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import type { DeviceRegistry } from './device-registry';
import type {
  AgencyMqttCredential,
  CredentialHashEntry,
  RegistryChange,
  RegistryRepository,
} from './registry-repository';

/** How often a process checks the change log when no notice has come (ms). */
export const REGISTRY_POLL_MS = 5000;

/** Delay that gathers the notices of one burst of writes (an import) into one refresh (ms). */
const NOTICE_DEBOUNCE_MS = 50;

/**
 * Every unrevoked credential hash, by device, in memory: what the broker checks a CONNECT
 * against without a database query (a reconnect storm of 10,000 devices is 10,000 Map lookups
 * and HMACs). Kept current by RegistrySync.
 */
export class CredentialIndex {
  private entries = new Map<string, readonly CredentialHashEntry[]>();

  /** Unrevoked credentials of a device (the broker checks `notAfter` itself). */
  credentialsOf(deviceId: string): readonly CredentialHashEntry[] {
    return this.entries.get(deviceId) ?? [];
  }

  get deviceCount(): number {
    return this.entries.size;
  }

  replaceAll(entries: Map<string, CredentialHashEntry[]>): void {
    this.entries = entries;
  }

  replace(deviceId: string, entries: readonly CredentialHashEntry[] | undefined): void {
    if (entries === undefined || entries.length === 0) this.entries.delete(deviceId);
    else this.entries.set(deviceId, entries);
  }
}

/**
 * The MQTT accounts of agencies, by agency id, in memory: what the broker checks an agency's
 * CONNECT (username `agency:{agencyId}`) against without a query. Kept current by RegistrySync
 * from the change log's `agency` entries.
 */
export class AgencyIndex {
  private accounts = new Map<string, AgencyMqttCredential>();

  /** The agency's MQTT account; undefined when it has none (or does not exist). */
  agencyAccount(agencyId: string): AgencyMqttCredential | undefined {
    return this.accounts.get(agencyId);
  }

  get size(): number {
    return this.accounts.size;
  }

  replaceAll(accounts: Map<string, AgencyMqttCredential>): void {
    this.accounts = accounts;
  }

  replace(agencyId: string, account: AgencyMqttCredential | undefined): void {
    if (account === undefined) this.accounts.delete(agencyId);
    else this.accounts.set(agencyId, account);
  }
}

export interface RegistrySyncOptions {
  logger: Logger;
  /** Kept current too when given (the broker's). */
  credentials?: CredentialIndex;
  /** Agencies' MQTT accounts, kept current too when given (the broker's). */
  agencies?: AgencyIndex;
  /** Called after each refresh that applied changes, with them (the broker ends sessions of suspended devices). */
  onChanges?: (changes: readonly RegistryChange[]) => void;
  /** Default REGISTRY_POLL_MS; 0 turns polling off (tests that drive refresh() themselves). */
  pollMs?: number;
}

/**
 * Keeps a process's in-memory DeviceRegistry (and credential index) equal to the registry
 * database. The database is the truth; each process reads the change log after its cursor:
 *
 * - at once when a change notice arrives on the internal bus (`notify()`, debounced);
 * - every `pollMs` otherwise, so a notice lost while the bus was down costs at most that delay.
 *
 * An area change reloads the whole tree (paths of every device below may change); a device or
 * credential change reloads just those devices; an agency change just those agencies' MQTT
 * accounts. Refreshes never overlap.
 */
export class RegistrySync {
  private cursor = 0;
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A registry database outage is logged once, not at every poll. */
  private readonly taskLog: DatabaseTaskLog;

  constructor(
    private readonly repository: RegistryRepository,
    private readonly registry: DeviceRegistry,
    private readonly options: RegistrySyncOptions,
  ) {
    this.taskLog = new DatabaseTaskLog(options.logger, 'registry refresh');
  }

  /** The change-log position this process has applied. */
  get position(): number {
    return this.cursor;
  }

  /** Loads everything, then starts polling. */
  async start(): Promise<void> {
    // The cursor is read first: a change committed during the load is applied again by the next
    // refresh (harmless) rather than missed.
    this.cursor = await this.repository.latestChangeSeq();
    await this.loadAll();
    const pollMs = this.options.pollMs ?? REGISTRY_POLL_MS;
    if (pollMs > 0) {
      this.timer = setInterval(() => void this.refresh(), pollMs);
      this.timer.unref();
    }
  }

  /** A change notice arrived: refresh shortly (several notices of one burst make one refresh). */
  notify(): void {
    if (this.stopped || this.debounce !== undefined) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, NOTICE_DEBOUNCE_MS);
  }

  /** Applies every change after the cursor; resolves once applied (queued behind a running one). */
  refresh(): Promise<void> {
    this.running = this.running.then(
      () => this.applyPending(),
      () => this.applyPending(),
    );
    return this.running.then(
      () => this.taskLog.succeeded(),
      (error: unknown) =>
        this.taskLog.failed(error, 'registry refresh failed; retrying at the next notice or poll'),
    );
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }

  private async loadAll(): Promise<void> {
    const [areas, devices] = await Promise.all([this.repository.listAreas(), this.repository.allDevices()]);
    this.registry.reload({ areas, devices });
    if (this.options.credentials)
      this.options.credentials.replaceAll(await this.repository.credentialHashes());
    if (this.options.agencies) this.options.agencies.replaceAll(await this.repository.agencyMqttAccounts());
  }

  private async applyPending(): Promise<void> {
    if (this.stopped) return;
    const changes: RegistryChange[] = [];
    for (;;) {
      const batch = await this.repository.changesSince(lastSeq(changes, this.cursor));
      if (batch.length === 0) break;
      changes.push(...batch);
    }
    if (changes.length === 0) return;
    if (changes.some((change) => change.entity === 'area')) {
      await this.loadAll();
    } else {
      const deviceIds = [...new Set(changes.filter((c) => c.entity === 'device').map((c) => c.entityId))];
      if (deviceIds.length > 0) {
        const found = new Map((await this.repository.devicesByIds(deviceIds)).map((d) => [d.id, d]));
        for (const id of deviceIds) this.registry.upsertDevice(id, found.get(id));
      }
      const credentialIds = [
        ...new Set(changes.filter((c) => c.entity === 'credential').map((c) => c.entityId)),
      ];
      if (credentialIds.length > 0 && this.options.credentials) {
        const hashes = await this.repository.credentialHashes(credentialIds);
        for (const id of credentialIds) this.options.credentials.replace(id, hashes.get(id));
      }
      const agencyIds = [...new Set(changes.filter((c) => c.entity === 'agency').map((c) => c.entityId))];
      if (agencyIds.length > 0 && this.options.agencies) {
        const accounts = await this.repository.agencyMqttAccounts(agencyIds);
        for (const id of agencyIds) this.options.agencies.replace(id, accounts.get(id));
      }
    }
    this.cursor = lastSeq(changes, this.cursor);
    this.options.logger.debug({ changes: changes.length, position: this.cursor }, 'registry refreshed');
    this.options.onChanges?.(changes);
  }
}

function lastSeq(changes: readonly RegistryChange[], fallback: number): number {
  return changes.length === 0 ? fallback : (changes[changes.length - 1] as RegistryChange).seq;
}
