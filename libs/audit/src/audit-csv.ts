import { stringify } from 'csv-stringify/sync';
import { neutraliseCsvCell } from '@ioc/registry';
import type { AuditEntry } from './audit-log';

/** Columns of the audit CSV, in order. */
export const AUDIT_CSV_COLUMNS = [
  'seq',
  'time',
  'actorKind',
  'actorId',
  'actorName',
  'action',
  'outcome',
  'entityType',
  'entityId',
  'before',
  'after',
  'detail',
  'address',
  'prevHash',
  'hash',
] as const;

/**
 * Audit entries as CSV (RFC 4180, CRLF line ends), columns AUDIT_CSV_COLUMNS: `time` ISO-8601 UTC,
 * `before`/`after`/`detail` as their JSON text, empty cells for nulls. Text cells that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) get a leading `'`
 * (neutraliseCsvCell of @ioc/registry, as the device export does: OWASP "CSV Injection").
 *
 * @param options.header write the header row (default true; false for the later pages of an export)
 * @param options.bom start with a UTF-8 byte-order mark so spreadsheet programs read Vietnamese
 *   names right (default: as `header`)
 */
export function auditToCsv(
  entries: readonly AuditEntry[],
  options: { header?: boolean; bom?: boolean } = {},
): string {
  const header = options.header ?? true;
  const bom = options.bom ?? header;
  const text = (value: string | null): string => (value === null ? '' : neutraliseCsvCell(value));
  const json = (value: unknown): string =>
    value === null || value === undefined ? '' : text(JSON.stringify(value));
  const rows = entries.map((e) => [
    String(e.seq),
    new Date(e.ts).toISOString(),
    text(e.actor.kind),
    text(e.actor.id),
    text(e.actor.name),
    text(e.action),
    text(e.outcome),
    text(e.entity?.type ?? null),
    text(e.entity?.id ?? null),
    json(e.before),
    json(e.after),
    json(e.detail),
    text(e.address),
    e.prevHash,
    e.hash,
  ]);
  const body = stringify(header ? [[...AUDIT_CSV_COLUMNS], ...rows] : rows, { record_delimiter: '\r\n' });
  return (bom ? '\uFEFF' : '') + body;
}
