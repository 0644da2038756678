import type { AlertBody, AlertEvent, AlertState, ConsoleLocale, Severity } from '@ioc/contracts';
import { formatValueWithUnit } from './value-format';

/*
 * The device panel's recent alerts: REST alerts (ISO times) and live alert events (epoch ms) as
 * one row model, merged newest first. Pure functions, unit-tested in node.
 */

/** Most alerts the device panel lists. */
export const RECENT_ALERTS_LIMIT = 10;

/** One alert as the device panel lists it. */
export interface AlertRow {
  id: string;
  deviceId: string | null;
  severity: Severity;
  state: AlertState;
  /** The rule's message in both languages (hostile text: shown with textContent only). */
  message: { vi: string; en: string };
  value: number | boolean | string | null;
  metric: string | null;
  unit: string;
  /** When it started (pendingAt), epoch ms: the list's order. */
  startedAt: number;
  /** Its last change, epoch ms: a live event older than the row it would replace is ignored. */
  updatedAt: number;
  version: number | null;
}

/** A REST alert (`GET /api/v1/alerts`) as a row. */
export function alertRowFromBody(body: AlertBody): AlertRow {
  return {
    id: body.id,
    deviceId: body.deviceId,
    severity: body.severity,
    state: body.state,
    message: body.message,
    value: body.value,
    metric: body.metric,
    unit: body.unit,
    startedAt: Date.parse(body.pendingAt),
    updatedAt: Date.parse(body.updatedAt),
    version: body.version,
  };
}

/** A live alert event (`alert` on /live: the alert after a transition) as a row. */
export function alertRowFromEvent(event: AlertEvent): AlertRow {
  const { alert } = event;
  return {
    id: alert.id,
    deviceId: alert.deviceId,
    severity: alert.severity,
    state: alert.state,
    message: alert.message,
    value: alert.value,
    metric: alert.metric,
    unit: alert.unit,
    startedAt: alert.pendingAt,
    updatedAt: alert.updatedAt,
    version: null,
  };
}

/**
 * The list after `row` (a live event or a fresh REST answer): it replaces the row of the same id
 * unless that one is newer (`updatedAt`), else it is added; newest first (startedAt), at most
 * `limit`. Returns the same array when nothing changed.
 */
export function mergeAlertRow(
  rows: readonly AlertRow[],
  row: AlertRow,
  limit = RECENT_ALERTS_LIMIT,
): AlertRow[] {
  const index = rows.findIndex((r) => r.id === row.id);
  if (index !== -1 && rows[index].updatedAt > row.updatedAt) return rows as AlertRow[];
  const next = index === -1 ? [...rows, row] : rows.map((r, i) => (i === index ? row : r));
  return next.sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id)).slice(0, limit);
}

/** The label of an alert row's value: the value of the alert's last step, not a live reading. */
export const ALERT_VALUE_LABEL: Readonly<Record<ConsoleLocale, string>> = {
  vi: 'giá trị gần nhất',
  en: 'latest value',
};

/**
 * An alert row's value as the panel shows it, labelled ("giá trị gần nhất: 152" / "latest value:
 * 152"): the value the alert carries is that of its last step (at resolution for a resolved alert),
 * which may differ from the number in its message (rendered when it fired). Null without a value.
 */
export function alertRowValueText(
  row: Pick<AlertRow, 'value' | 'metric' | 'unit'>,
  locale: ConsoleLocale,
): string | null {
  if (row.value === null || row.metric === null) return null;
  return `${ALERT_VALUE_LABEL[locale]}: ${formatValueWithUnit(row.metric, row.value, locale, row.unit)}`;
}
