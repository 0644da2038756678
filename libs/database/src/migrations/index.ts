import type { Migration, MigrationProvider } from 'kysely';
import type { DatabaseKind } from '../database-config';
import { registryMigration } from './0001-registry';
import { deviceIdCaseMigration } from './0002-device-id-case';
import { accessMigration } from './0003-access';
import { alertsMigration } from './0004-alerts';
import { notificationsMigration } from './0005-notifications';
import { leasesMigration } from './0006-leases';
import { keyFingerprintsMigration } from './0007-key-fingerprints';

/**
 * Every migration, in order, keyed by a name that sorts in that order. Held in code rather than
 * read from a folder, so a bundled or relocated build migrates the same. Never edit or renumber
 * one that has shipped: add the next.
 */
export function platformMigrations(kind: DatabaseKind): Record<string, Migration> {
  return {
    '0001-registry': registryMigration(kind),
    '0002-device-id-case': deviceIdCaseMigration,
    '0003-access': accessMigration(kind),
    '0004-alerts': alertsMigration(kind),
    '0005-notifications': notificationsMigration(kind),
    '0006-leases': leasesMigration,
    '0007-key-fingerprints': keyFingerprintsMigration,
  };
}

export class PlatformMigrationProvider implements MigrationProvider {
  constructor(private readonly kind: DatabaseKind) {}

  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(platformMigrations(this.kind));
  }
}
