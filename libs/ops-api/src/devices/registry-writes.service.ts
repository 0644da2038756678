import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@ioc/runtime';
import type { RegistryRepository } from '@ioc/registry';
import { registryHttpError, registryUnavailable } from '../common/registry-errors';
import { InternalBusRepository } from '../live/internal-bus.repository';
import type { RegistryProvisioning } from '../registry-port';
import { LOGGER, REGISTRY_PROVISIONING } from '../tokens';

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

  /** Refreshes this node's registry and publishes a change notice with the change log's position. */
  async announce(): Promise<void> {
    const port = this.port;
    await port.refresh();
    try {
      this.bus.announceRegistryChanges({ seq: await port.repository.latestChangeSeq() });
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'registry change notice not sent');
    }
  }
}
