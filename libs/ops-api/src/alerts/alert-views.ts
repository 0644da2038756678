import type { RuleRecord, RuleVersion, Silence, VersionedAlert } from '@ioc/alerting';
import { silenceActiveAt } from '@ioc/alerting';
import type { AlertBody, AlertTransition, RuleBody, SilenceBody } from '@ioc/contracts';
import { csvLine } from '../history/csv';

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** A stored rule as REST shows it. */
export function toRuleBody(record: RuleRecord): RuleBody {
  return {
    rule: record.definition,
    version: record.version,
    origin: record.origin,
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    updatedBy: record.updatedBy,
  };
}

export function toRuleVersionBody(version: RuleVersion) {
  return {
    version: version.version,
    change: version.change,
    changedAt: iso(version.changedAt),
    changedBy: version.changedBy,
    rule: version.definition,
  };
}

/** An alert as REST shows it (ISO times, with its version). */
export function toAlertBody({ alert, version }: VersionedAlert): AlertBody {
  return {
    ...alert,
    pendingAt: iso(alert.pendingAt),
    firingAt: isoOrNull(alert.firingAt),
    acknowledgedAt: isoOrNull(alert.acknowledgedAt),
    resolvedAt: isoOrNull(alert.resolvedAt),
    updatedAt: iso(alert.updatedAt),
    version,
  };
}

export function toTransitionBody(transition: AlertTransition) {
  return { ...transition, at: iso(transition.at) };
}

export function toSilenceBody(silence: Silence, now: number): SilenceBody {
  return {
    ...silence,
    startsAt: iso(silence.startsAt),
    endsAt: iso(silence.endsAt),
    createdAt: iso(silence.createdAt),
    endedAt: isoOrNull(silence.endedAt),
    active: silenceActiveAt(silence, now),
  };
}

/** Columns of the alert CSV, in order. */
export const ALERT_CSV_COLUMNS = [
  'id',
  'ruleId',
  'ruleVersion',
  'state',
  'severity',
  'subjectKind',
  'subjectId',
  'deviceId',
  'deviceType',
  'domain',
  'areaId',
  'metric',
  'event',
  'value',
  'limit',
  'unit',
  'pendingAt',
  'firingAt',
  'acknowledgedAt',
  'acknowledgedBy',
  'acknowledgementNote',
  'resolvedAt',
  'resolvedBy',
  'resolution',
  'messageVi',
  'messageEn',
] as const;

/**
 * Alerts as CSV (RFC 4180, CRLF, UTF-8 with a byte-order mark so spreadsheets read Vietnamese;
 * formula-like cells defused by csvField): one row per alert, ISO times.
 */
export function alertsToCsv(alerts: readonly AlertBody[]): string {
  let text = `\uFEFF${csvLine([...ALERT_CSV_COLUMNS])}`;
  for (const a of alerts) {
    text += csvLine([
      a.id,
      a.ruleId,
      a.ruleVersion,
      a.state,
      a.severity,
      a.subjectKind,
      a.subjectId,
      a.deviceId,
      a.deviceType,
      a.domain,
      a.areaId,
      a.metric,
      a.event,
      a.value,
      a.limit,
      a.unit,
      a.pendingAt,
      a.firingAt,
      a.acknowledgedAt,
      a.acknowledgedBy,
      a.acknowledgementNote,
      a.resolvedAt,
      a.resolvedBy,
      a.resolution,
      a.message.vi,
      a.message.en,
    ]);
  }
  return text;
}
