import type { Kysely } from 'kysely';
import { AlertRepository, RuleRepository, SilenceRepository } from '@ioc/alerting';
import type { DatabaseSchema } from '@ioc/database';
import { RegistryRepository } from '@ioc/registry';

/**
 * Rules, alerts and silences (`@ioc/alerting`) as the API's alert routes use them. Absent (an API
 * without a database): `/api/v1/rules`, `/alerts` and `/silences` answer 503
 * `alerting-unavailable`.
 */
export interface AlertingPort {
  rules: RuleRepository;
  alerts: AlertRepository;
  silences: SilenceRepository;
  /** The registry change log's newest position (announced on the bus after a rule or alert write). */
  latestChangeSeq(): Promise<number>;
}

/** The alerting port over a registry database migrated to 0004-alerts or later. */
export function createAlertingPort(db: Kysely<DatabaseSchema>, clock: () => number = Date.now): AlertingPort {
  const registry = new RegistryRepository(db, clock);
  return {
    rules: new RuleRepository(db, clock),
    alerts: new AlertRepository(db, clock),
    silences: new SilenceRepository(db, clock),
    latestChangeSeq: () => registry.latestChangeSeq(),
  };
}
