import type { Insertable, Selectable } from 'kysely';
import type { Alert, AlertTransition, TransitionActor } from '@ioc/contracts';
import type { AlertsTable, AlertTransitionsTable } from '@ioc/database';

/** An alert row as the database holds it (JSON columns as text; `limit` is `limit_value`). */
export function alertToRow(alert: Alert, version: number): Insertable<AlertsTable> {
  return {
    id: alert.id,
    rule_id: alert.ruleId,
    rule_version: alert.ruleVersion,
    rule_kind: alert.ruleKind,
    subject_kind: alert.subjectKind,
    subject_id: alert.subjectId,
    device_id: alert.deviceId,
    device_type: alert.deviceType,
    domain: alert.domain,
    area_id: alert.areaId,
    area_path: JSON.stringify(alert.areaPath),
    metric: alert.metric,
    event: alert.event,
    severity: alert.severity,
    state: alert.state,
    value: alert.value === null ? null : JSON.stringify(alert.value),
    limit_value: alert.limit,
    unit: alert.unit,
    message: JSON.stringify(alert.message),
    pending_at: alert.pendingAt,
    firing_at: alert.firingAt,
    acknowledged_at: alert.acknowledgedAt,
    acknowledged_by: alert.acknowledgedBy,
    acknowledgement_note: alert.acknowledgementNote,
    resolved_at: alert.resolvedAt,
    resolved_by: alert.resolvedBy,
    resolution: alert.resolution,
    updated_at: alert.updatedAt,
    version,
  };
}

/** The alert of a row, and its optimistic-concurrency version. */
export function rowToAlert(row: Selectable<AlertsTable>): Alert {
  return {
    id: row.id,
    ruleId: row.rule_id,
    ruleVersion: row.rule_version,
    ruleKind: row.rule_kind as Alert['ruleKind'],
    subjectKind: row.subject_kind as Alert['subjectKind'],
    subjectId: row.subject_id,
    deviceId: row.device_id,
    deviceType: row.device_type as Alert['deviceType'],
    domain: row.domain as Alert['domain'],
    areaId: row.area_id,
    areaPath: JSON.parse(row.area_path) as string[],
    metric: row.metric,
    event: row.event,
    severity: row.severity as Alert['severity'],
    state: row.state as Alert['state'],
    value: row.value === null ? null : (JSON.parse(row.value) as Alert['value']),
    limit: row.limit_value,
    unit: row.unit,
    message: JSON.parse(row.message) as Alert['message'],
    pendingAt: row.pending_at,
    firingAt: row.firing_at,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
    acknowledgementNote: row.acknowledgement_note,
    resolvedAt: row.resolved_at,
    resolvedBy: row.resolved_by,
    resolution: row.resolution as Alert['resolution'],
    updatedAt: row.updated_at,
  };
}

export function transitionToRow(t: AlertTransition): Insertable<AlertTransitionsTable> {
  return {
    alert_id: t.alertId,
    seq: t.seq,
    at: t.at,
    from_state: t.from,
    to_state: t.to,
    kind: t.kind,
    severity: t.severity,
    value: t.value === null ? null : JSON.stringify(t.value),
    actor: JSON.stringify(t.by),
    note: t.note,
    resolution: t.resolution,
  };
}

export function rowToTransition(row: Selectable<AlertTransitionsTable>): AlertTransition {
  return {
    alertId: row.alert_id,
    seq: row.seq,
    at: row.at,
    from: row.from_state as AlertTransition['from'],
    to: row.to_state as AlertTransition['to'],
    kind: row.kind as AlertTransition['kind'],
    severity: row.severity as AlertTransition['severity'],
    value: row.value === null ? null : (JSON.parse(row.value) as AlertTransition['value']),
    by: JSON.parse(row.actor) as TransitionActor,
    note: row.note,
    resolution: row.resolution as AlertTransition['resolution'],
  };
}
