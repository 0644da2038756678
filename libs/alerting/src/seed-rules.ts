import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { RuleDefinition } from '@ioc/contracts';
import { type DatabaseSchema, transaction } from '@ioc/database';
import { AlertingError } from './alerting-error';
import { ruleDigest, RuleRepository } from './rule-repository';
import { parseRule } from './rule-validation';

/** The default rules' file in the seeds directory. */
export const RULES_FILE = 'rules.json';

/** What loadSeedRules did with each seed rule. */
export interface SeedRulesReport {
  /** New seed rules (first start, or a rule added to the file). */
  created: string[];
  /** Seed rules whose file entry changed and that nobody had edited: replaced, version + 1. */
  updated: string[];
  unchanged: string[];
  /** Seed rules an admin edited (or disabled) through REST: the file's version is not applied. */
  keptEdited: string[];
  /** Seed rules an admin deleted: not revived. */
  keptDeleted: string[];
  /** Unedited seed rules no longer in the file: deleted (soft). */
  removed: string[];
}

/**
 * Reads and checks `{seedsDir}/rules.json`: a JSON array of rule definitions (contracts
 * `ruleDefinitionSchema`, plus parseRule's checks of templates, metrics and events), ids unique.
 * @throws AlertingError invalid naming the entry (`rules.json[3].metric: …`); a read or JSON error
 */
export function readSeedRules(seedsDir: string): RuleDefinition[] {
  const path = join(seedsDir, RULES_FILE);
  const raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!Array.isArray(raw)) throw new AlertingError('invalid', `${RULES_FILE}: expected an array of rules`);
  const seen = new Set<string>();
  return raw.map((entry: unknown, index) => {
    let rule: RuleDefinition;
    try {
      rule = parseRule(entry);
    } catch (error) {
      if (error instanceof AlertingError) {
        throw new AlertingError('invalid', `${RULES_FILE}[${index}].${error.message}`, error.field);
      }
      throw error;
    }
    if (seen.has(rule.id))
      throw new AlertingError('invalid', `${RULES_FILE}[${index}].id: "${rule.id}" is repeated`, 'id');
    seen.add(rule.id);
    return rule;
  });
}

/**
 * Applies the seed rules to the database, in one transaction; run at every start (it changes
 * nothing when neither the file nor the rules changed). How an edit is told apart: the loader
 * stores, with each seed rule, the digest (SHA-256 of canonical JSON) of the definition it wrote
 * (`rules.seed_digest`). A stored rule whose definition still has that digest is the loader's
 * own and is replaced when the file's entry differs (version + 1, change `reseeded`); a rule an
 * admin updated, enabled or disabled through REST no longer matches (an update also clears the
 * digest) and is kept as the admin left it; a seed rule an admin deleted stays deleted. An
 * unedited seed rule that left the file is deleted. Every write goes through RuleRepository, so it
 * is versioned and appears in the registry change log (entity `rule`).
 *
 * @param db the registry database (or an open transaction: prepareDatabase's afterMigrate)
 * @throws AlertingError invalid from readSeedRules (nothing is written)
 */
export async function loadSeedRules(
  db: Kysely<DatabaseSchema>,
  seedsDir: string,
  clock: () => number = Date.now,
): Promise<SeedRulesReport> {
  const rules = readSeedRules(seedsDir);
  const report: SeedRulesReport = {
    created: [],
    updated: [],
    unchanged: [],
    keptEdited: [],
    keptDeleted: [],
    removed: [],
  };
  await transaction(db, async (trx) => {
    const repository = new RuleRepository(trx, clock);
    const stored = new Map((await trx.selectFrom('rules').select('id').execute()).map((r) => [r.id, r.id]));
    const records = new Map((await repository.byIds([...stored.keys()])).map((r) => [r.definition.id, r]));
    for (const rule of rules) {
      const digest = ruleDigest(rule);
      const existing = records.get(rule.id);
      if (existing === undefined) {
        await repository.writeSeed(rule, digest, undefined, trx);
        report.created.push(rule.id);
      } else if (existing.deletedAt !== null) {
        report.keptDeleted.push(rule.id);
      } else if (existing.seedDigest === digest && ruleDigest(existing.definition) === digest) {
        report.unchanged.push(rule.id);
      } else if (existing.seedDigest !== null && ruleDigest(existing.definition) === existing.seedDigest) {
        await repository.writeSeed(rule, digest, existing, trx);
        report.updated.push(rule.id);
      } else {
        report.keptEdited.push(rule.id);
      }
    }
    const inFile = new Set(rules.map((r) => r.id));
    for (const record of records.values()) {
      if (
        record.origin === 'seed' &&
        record.deletedAt === null &&
        !inFile.has(record.definition.id) &&
        record.seedDigest !== null &&
        ruleDigest(record.definition) === record.seedDigest
      ) {
        await repository.delete(record.definition.id, null, record.version);
        report.removed.push(record.definition.id);
      }
    }
  });
  return report;
}
