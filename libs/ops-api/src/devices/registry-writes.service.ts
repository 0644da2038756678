import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@ioc/runtime';
import type { RegistryRepository } from '@ioc/registry';
import { registryHttpError, registryUnavailable } from '../common/registry-errors';
import { InternalBusRepository } from '../live/internal-bus.repository';
import type { RegistryProvisioning } from '../registry-port';
import type { OpsApiSettings } from '../api-config';
import { LOGGER, OPS_API_SETTINGS, REGISTRY_PROVISIONING } from '../tokens';

/**
 * Every registry write of the API goes through `write()`: the repository call (its RegistryError
 * mapped to 400/404/409), then — once it committed — this node's in-memory registry refreshed
 * (so the GETs that follow the answer show the change) and a change notice published on the
 * internal bus for the other processes (broker, other API nodes).
 */
@Injectable()
export class RegistryWrites {
  constructor(
    @Inject(REGISTRY_PROVISIONING) private readonly provisioning: RegistryProvisioning | null,
    private readonly bus: InternalBusRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
  ) {}

  /** The provisioning port; 503 `registry-unavailable` when the API has no database. */
  get port(): RegistryProvisioning {
    if (this.provisioning === null) throw registryUnavailable();
    return this.provisioning;
  }

  /** @throws 503 `registry-unavailable` when the API has no database */
  requireDatabase(): void {
    if (this.provisioning === null) throw registryUnavailable();
  }

  /** A read through the repository (credentials are not in the in-memory registry), errors mapped. */
  async read<T>(fn: (repository: RegistryRepository) => Promise<T>): Promise<T> {
    const { repository } = this.port;
    try {
      return await fn(repository);
    } catch (error) {
      throw registryHttpError(error);
    }
  }

  /** Runs one write, then refreshes this node and announces the change (see the class). */
  async write<T>(fn: (repository: RegistryRepository, credentialKey: Buffer) => Promise<T>): Promise<T> {
    const port = this.port;
    let result: T;
    try {
      result = await fn(port.repository, port.credentialKey);
    } catch (error) {
      throw registryHttpError(error);
    }
    await this.announce();
    return result;
  }

  /**
   * Refreshes this node's registry, publishes a change notice with the change log's position, and
   * waits (at most BROKER_APPLY_TIMEOUT_MS) until every broker node has applied it: once a write
   * is answered, a revoked secret or a suspended device is refused and a new secret accepted.
   * Past the timeout the answer goes out anyway (the write is committed) and a warning is logged.
   */
  async announce(): Promise<void> {
    const port = this.port;
    await port.refresh();
    const seq = await port.repository.latestChangeSeq();
    try {
      this.bus.announceRegistryChanges({ seq });
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'registry change notice not sent');
    }
    const timeoutMs = this.settings.brokerApplyTimeoutMs ?? BROKER_APPLY_TIMEOUT_MS;
    if (!(await this.bus.waitForBrokers(seq, timeoutMs))) {
      this.logger.warn(
        { seq, timeoutMs },
        'registry write answered before every broker applied it; they catch up at their next check',
      );
    }
  }
}

/** Longest a registry write's answer waits for the brokers to apply it (ms). */
export const BROKER_APPLY_TIMEOUT_MS = 3000;
