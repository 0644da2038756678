import { z } from 'zod';
import { DEVICE_TYPES, type DeviceType } from './device-types';
import { DOMAINS } from './domains';
import { unsafeCharacterMessage } from './text-safety';

/*
 * Threshold alerts: rules, the alerts they open, silences, agencies' subscriptions and the
 * notifications delivered to them. Shared by the alert engine (broker), the notifier and REST (API),
 * and the console. Browser-safe (zod only).
 *
 * Terms are alerting's (Prometheus / Alertmanager): a *rule* watches a subject; while its condition
 * holds for less than `forSeconds` its alert is *pending*, then *firing*; an operator may
 * *acknowledge* it; it is *resolved* when its clear condition holds (hysteresis), by hand, or when
 * the rule stops applying. A *silence* suppresses notifications (never evaluation). Notifications are
 * grouped (`groupWaitSeconds`, `groupIntervalSeconds`) and repeated (`repeatIntervalSeconds`) as in
 * Alertmanager's notification policy.
 *
 * Units: durations are seconds, stored timestamps epoch milliseconds, REST shows ISO 8601.
 */

/** Vietnam's offset from UTC (Indochina Time, UTC+7, no daylight saving time), in milliseconds. */
export const VIETNAM_UTC_OFFSET_MS = 7 * 3600 * 1000;

/** Severities, each including the one before it when a subscription names a minimum. */
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const severitySchema = z.enum(SEVERITIES);

/** Whether `severity` is at least `minimum` (critical ⊇ warning ⊇ info). */
export function severityAtLeast(severity: Severity, minimum: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(minimum);
}

/**
 * Life cycle of an alert: `pending` (condition holds, `forSeconds` not yet over) → `firing` →
 * `acknowledged` (an operator took it, with a note; it still resolves by itself) → `resolved`.
 * One alert per rule and subject is open (not resolved) at a time.
 */
export const ALERT_STATES = ['pending', 'firing', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export const OPEN_ALERT_STATES = [
  'pending',
  'firing',
  'acknowledged',
] as const satisfies readonly AlertState[];

/**
 * Why an alert was resolved:
 * - `cleared`: the rule's clear condition held (or, for events, `keepFiringForSeconds` passed with
 *   no new occurrence; for no-data, the device reported again);
 * - `manual`: an operator resolved it;
 * - `not-fired`: it was pending and its condition stopped before `forSeconds` (never notified);
 * - `rule-changed`: the rule was edited so that this subject is no longer covered, or disabled;
 * - `rule-deleted`;
 * - `out-of-schedule`: the rule's hours or validity dates ended (a day-time noise limit at 21:00;
 *   a limit replaced by a dated successor).
 */
export const ALERT_RESOLUTIONS = [
  'cleared',
  'manual',
  'not-fired',
  'rule-changed',
  'rule-deleted',
  'out-of-schedule',
] as const;
export type AlertResolution = (typeof ALERT_RESOLUTIONS)[number];

/** Rule ids: a lower-case slug (`qcvn05-pm25-24h`), 2–64 characters of `a-z 0-9 . -`. */
export const RULE_ID_PATTERN = /^[a-z0-9][a-z0-9.-]{1,63}$/;
const ruleId = z.string().regex(RULE_ID_PATTERN, 'a rule id is 2–64 characters of a-z 0-9 . - (lower case)');

const areaId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'malformed area id');
const deviceId = z.string().min(1).max(128);
const metricName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,63}$/, 'malformed metric name');
const finite = z.number().refine(Number.isFinite, 'not a finite number');
/** Durations up to 31 days, seconds. */
const seconds = z
  .number()
  .int()
  .nonnegative()
  .max(31 * 24 * 3600);
const isoTime = z.iso.datetime({ offset: true });

/**
 * Free text a person writes and others read (rule names, messages, sources, labels, silence
 * comments, acknowledge/resolve notes): `min`–`max` characters, no control or bidirectional
 * character (text-safety.ts: it would travel into webhooks, MQTT, CSV and consoles); `trim`
 * removes surrounding white space first. The refusal
 * names the field and says `… (control and bidirectional characters are refused)`, as webhook
 * descriptions and subscription names do.
 */
export function safeTextSchema(min: number, max: number, o: { trim?: boolean } = {}): z.ZodString {
  const text = o.trim === true ? z.string().trim() : z.string();
  return text
    .min(min)
    .max(max)
    .check((ctx) => {
      const problem = unsafeCharacterMessage(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    });
}

/** Text in Vietnamese (the default) and English. */
export const localizedTextSchema = z.strictObject({
  vi: safeTextSchema(1, 1000),
  en: safeTextSchema(1, 1000),
});
export type LocalizedText = z.infer<typeof localizedTextSchema>;
export const LANGUAGES = ['vi', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

/**
 * Which devices a rule covers: every axis given must hold (intersection); an empty scope covers
 * every device. `areaIds` are subtrees (an area and its sub-areas). `attributes` match the
 * registry's device attributes by equality (e.g. `{ "noiseZone": "special" }` for the QCVN 26
 * special-area limits).
 */
export const ruleScopeSchema = z.strictObject({
  deviceIds: z.array(deviceId).min(1).max(1000).optional(),
  deviceTypes: z
    .array(z.enum(DEVICE_TYPES as [DeviceType, ...DeviceType[]]))
    .min(1)
    .optional(),
  domains: z.array(z.enum(DOMAINS)).min(1).optional(),
  areaIds: z.array(areaId).min(1).max(200).optional(),
  attributes: z
    .record(z.string().min(1).max(64), z.union([safeTextSchema(0, 200), finite, z.boolean()]))
    .optional(),
});
export type RuleScope = z.infer<typeof ruleScopeSchema>;

/**
 * A condition on one value (a reading's metric, a window's aggregate):
 * - `above` / `below`: strictly beyond `value`, or reaching it with `inclusive: true`
 *   ("AQI reaching 101" is `above 101 inclusive`);
 * - `outside`: below `min` or above `max` (e.g. pH 6.5–8.5);
 * - `rateOfChange`: the change from the subject's previous value, per minute, beyond `perMinute`
 *   (`direction` rise, fall or either);
 * - `equals`: the value is exactly `value` (a state, an enumeration, a boolean).
 */
export const conditionSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('above'), value: finite, inclusive: z.boolean().optional() }),
  z.strictObject({ op: z.literal('below'), value: finite, inclusive: z.boolean().optional() }),
  z
    .strictObject({ op: z.literal('outside'), min: finite, max: finite })
    .refine((c) => c.min < c.max, 'min must be below max'),
  z.strictObject({
    op: z.literal('rateOfChange'),
    perMinute: finite.refine((v) => v > 0, 'perMinute must be positive'),
    direction: z.enum(['rise', 'fall', 'either']).optional(),
  }),
  z.strictObject({ op: z.literal('equals'), value: z.union([finite, z.boolean(), z.string().max(200)]) }),
]);
export type Condition = z.infer<typeof conditionSchema>;

/**
 * A rolling window over a device's values (an averaging-window limit: the 24-hour mean of PM2.5,
 * the 8-hour mean of CO) or over an area's devices (`areaAggregate` rules: the mean of each
 * station's mean). `minCoverage` (0–1): the fraction of the window that must hold data before the
 * aggregate is evaluated (QCVN 05:2023 averages need most hours of the period; default 0.75).
 */
export const windowSchema = z.strictObject({
  seconds: seconds.refine((s) => s >= 60, 'a window is at least 60 s'),
  aggregate: z.enum(['mean', 'max', 'min']),
  minCoverage: z.number().min(0).max(1).optional(),
});
export type RuleWindow = z.infer<typeof windowSchema>;

/**
 * Local hours (Vietnam, UTC+7) in which a rule applies: from `fromHour` (inclusive) to `toHour`
 * (exclusive), wrapping midnight when `fromHour > toHour` (21 → 6 is the night of QCVN 26). Outside
 * them the rule evaluates nothing and resolves its open alerts (`out-of-schedule`).
 */
export const ruleScheduleSchema = z
  .strictObject({
    fromHour: z.number().int().min(0).max(23),
    toHour: z.number().int().min(0).max(24),
  })
  .refine((s) => s.fromHour !== s.toHour, 'fromHour and toHour must differ');
export type RuleSchedule = z.infer<typeof ruleScheduleSchema>;

/** Where a rule's limit comes from: a standard and its clause, its dates, a link. */
export const ruleSourceSchema = z.strictObject({
  standard: safeTextSchema(1, 200),
  clause: safeTextSchema(0, 200).optional(),
  url: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
  note: safeTextSchema(0, 1000).optional(),
});
export type RuleSource = z.infer<typeof ruleSourceSchema>;

/** A higher severity an open alert escalates to while `condition` holds. */
export const escalationSchema = z.strictObject({ severity: severitySchema, condition: conditionSchema });

const ruleCommon = {
  id: ruleId,
  name: localizedTextSchema,
  description: localizedTextSchema.optional(),
  enabled: z.boolean().default(true),
  severity: severitySchema,
  scope: ruleScopeSchema.default({}),
  /** Pending this long before firing; 0 fires at once. */
  forSeconds: seconds.optional(),
  /** Keep firing this long after the clear condition first holds (flapping guard). */
  keepFiringForSeconds: seconds.optional(),
  escalations: z.array(escalationSchema).max(5).optional(),
  schedule: ruleScheduleSchema.optional(),
  /** The rule applies to readings with `ts` from this instant (a dated switch of a limit). */
  validFrom: isoTime.optional(),
  /** …and before this one. */
  validUntil: isoTime.optional(),
  /**
   * Message templates. Placeholders: `{device}` (name), `{deviceId}`, `{area}` (name), `{areaId}`,
   * `{metric}` (label), `{value}`, `{unit}`, `{limit}`, `{window}`, `{standard}`, `{severity}`,
   * `{event}`, `{silentFor}`, `{band}` (the VN_AQI band of the value, `Kém` / `Poor`…, on metric
   * `aqi`; '' elsewhere). Unknown placeholders are refused when the rule is written.
   */
  message: localizedTextSchema,
  source: ruleSourceSchema.optional(),
  labels: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/), safeTextSchema(0, 200)).optional(),
};

/**
 * `threshold`: each reading's `metric` (a measured metric or a derived one such as `aqi`), or its
 * rolling `window` aggregate per device, against `condition`; resolved when `clear` holds (default:
 * the condition no longer holds). Hysteresis: `clear` distinct from `condition`, e.g. fire above 55,
 * clear below 52.
 */
export const thresholdRuleSchema = z.strictObject({
  ...ruleCommon,
  kind: z.literal('threshold'),
  metric: metricName,
  condition: conditionSchema,
  clear: conditionSchema.optional(),
  window: windowSchema.optional(),
});

/**
 * `areaAggregate`: for each area of `scope.areaIds` (required), the `window` aggregate over the
 * covered devices in its subtree (the mean of each device's mean), against `condition`; the alert's
 * subject is the area. `minDevices`: devices that must have data in the window (default 1).
 */
export const areaAggregateRuleSchema = z.strictObject({
  ...ruleCommon,
  kind: z.literal('areaAggregate'),
  metric: metricName,
  window: windowSchema,
  condition: conditionSchema,
  clear: conditionSchema.optional(),
  minDevices: z.number().int().min(1).max(10000).optional(),
});

/**
 * `event`: a device raised `event` (camera `accident`, `wrongWay`…), optionally only when one of the
 * event's metrics meets `condition` (`metric` + `condition`: confidence ≥ 0.7). Fires at once (or
 * after `forSeconds` of repeated occurrences); resolves `keepFiringForSeconds` (default 900) after
 * the last occurrence, or by hand.
 */
export const eventRuleSchema = z
  .strictObject({
    ...ruleCommon,
    kind: z.literal('event'),
    event: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,63}$/),
    metric: metricName.optional(),
    condition: conditionSchema.optional(),
  })
  .refine((r) => (r.metric === undefined) === (r.condition === undefined), {
    message: 'metric and condition go together',
    path: ['condition'],
  });

/**
 * `status`: the device's connection status (the broker's status tracker: will message, clean
 * disconnect, silence timeout) is `offline`; with `forSeconds` it must stay offline that long.
 * Resolves when the device is online again.
 */
export const statusRuleSchema = z.strictObject({
  ...ruleCommon,
  kind: z.literal('status'),
  status: z.literal('offline'),
});

/**
 * `noData`: a covered device sent no reading for `silentSeconds` (default: the device's own silence
 * timeout, from its type's reporting interval). Timer-driven; resolves at its next reading.
 */
export const noDataRuleSchema = z.strictObject({
  ...ruleCommon,
  kind: z.literal('noData'),
  silentSeconds: seconds.refine((s) => s >= 10, 'at least 10 s').optional(),
});

/** A rule as written through REST or in `seeds/rules.json` (defaults applied by parsing). */
export const ruleDefinitionSchema = z.discriminatedUnion('kind', [
  thresholdRuleSchema,
  areaAggregateRuleSchema,
  eventRuleSchema,
  statusRuleSchema,
  noDataRuleSchema,
]);
export type RuleDefinition = z.infer<typeof ruleDefinitionSchema>;
export type RuleDefinitionInput = z.input<typeof ruleDefinitionSchema>;
export type RuleKind = RuleDefinition['kind'];

/** A stored rule: its definition plus version and provenance (REST answers; the engine's input). */
export interface StoredRule {
  definition: RuleDefinition;
  /** 1 on creation, +1 on every change; alerts and transitions record the version that decided. */
  version: number;
  /** `seed`: loaded from seeds/rules.json; `api`: written through REST. */
  origin: 'seed' | 'api';
  createdAt: number;
  updatedAt: number;
  /** Account id of the last writer, null for seeds. */
  updatedBy: string | null;
}

/** Who caused a transition: the engine, or a person (account id and username). */
export const transitionActorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('engine') }),
  z.object({ kind: z.literal('account'), id: z.string(), name: z.string() }),
]);
export type TransitionActor = z.infer<typeof transitionActorSchema>;

const alertValue = z.union([finite, z.boolean(), z.string()]).nullable();
const epochMs = z.number().int();

/** One step in an alert's life, with the values that caused it. */
export const alertTransitionSchema = z.object({
  alertId: z.string(),
  /** 1, 2, 3… per alert. */
  seq: z.number().int().positive(),
  /** Epoch ms: the reading's `ts` for reading-driven steps, the clock for timers and people. */
  at: epochMs,
  from: z.enum(ALERT_STATES).nullable(),
  to: z.enum(ALERT_STATES),
  /** `escalated` steps keep the state and raise the severity. */
  kind: z.enum(['opened', 'fired', 'escalated', 'acknowledged', 'resolved']),
  severity: severitySchema,
  value: alertValue,
  by: transitionActorSchema,
  note: z.string().nullable(),
  resolution: z.enum(ALERT_RESOLUTIONS).nullable(),
});
export type AlertTransition = z.infer<typeof alertTransitionSchema>;

/** An alert: one rule × one subject (a device, or an area for `areaAggregate` rules). */
export const alertSchema = z.object({
  /** UUID. */
  id: z.string(),
  ruleId: z.string(),
  ruleVersion: z.number().int().positive(),
  ruleKind: z.enum(['threshold', 'areaAggregate', 'event', 'status', 'noData']),
  subjectKind: z.enum(['device', 'area']),
  /** The device id or the area id. */
  subjectId: z.string(),
  deviceId: z.string().nullable(),
  deviceType: z.enum(DEVICE_TYPES as [DeviceType, ...DeviceType[]]).nullable(),
  domain: z.enum(DOMAINS).nullable(),
  areaId: z.string(),
  /** Root first, ending with `areaId`: scope checks and live rooms use it. */
  areaPath: z.array(z.string()),
  metric: z.string().nullable(),
  event: z.string().nullable(),
  severity: severitySchema,
  state: z.enum(ALERT_STATES),
  /** The value that last changed the alert (a reading's value, a window's aggregate). */
  value: alertValue,
  /** The firing condition's limit, when it has one number. */
  limit: finite.nullable(),
  /** Display unit of `metric` ('' when none). */
  unit: z.string(),
  /** The rule's message with this alert's values, rendered at the last transition. */
  message: z.object({ vi: z.string(), en: z.string() }),
  /** Epoch ms of the steps; null until they happen. */
  pendingAt: epochMs,
  firingAt: epochMs.nullable(),
  acknowledgedAt: epochMs.nullable(),
  acknowledgedBy: z.string().nullable(),
  acknowledgementNote: z.string().nullable(),
  resolvedAt: epochMs.nullable(),
  resolvedBy: z.string().nullable(),
  resolution: z.enum(ALERT_RESOLUTIONS).nullable(),
  updatedAt: epochMs,
});
export type Alert = z.infer<typeof alertSchema>;

/**
 * Payload of `$internal/ioc/v1/alerts` (INTERNAL_ALERTS_TOPIC, QoS 1): transitions the engine has
 * committed, each with the alert as it is after it, in commit order. API nodes push them live and
 * wake the notifier (which reads the database, so a lost message only delays a notification).
 */
export const alertEventsSchema = z.array(z.object({ alert: alertSchema, transition: alertTransitionSchema }));
export type AlertEvent = z.infer<typeof alertEventsSchema>[number];

/**
 * A silence (or a maintenance window: `reason: 'maintenance'`): while `startsAt ≤ now < endsAt`,
 * notifications of alerts it matches are not sent (the alerts are still evaluated, opened and
 * resolved, and shown). Every matcher given must hold; at least one must be given.
 */
export const silenceMatchersSchema = z
  .strictObject({
    ruleIds: z.array(ruleId).min(1).max(100).optional(),
    deviceIds: z.array(deviceId).min(1).max(1000).optional(),
    areaIds: z.array(areaId).min(1).max(200).optional(),
    domains: z.array(z.enum(DOMAINS)).min(1).optional(),
    severities: z.array(severitySchema).min(1).optional(),
  })
  .refine((m) => Object.values(m).some((v) => v !== undefined), 'give at least one matcher');
export type SilenceMatchers = z.infer<typeof silenceMatchersSchema>;

/** Alertmanager's defaults (route `group_wait`, `group_interval`, `repeat_interval`), seconds. */
export const NOTIFICATION_POLICY_DEFAULTS = {
  groupWaitSeconds: 30,
  groupIntervalSeconds: 300,
  repeatIntervalSeconds: 4 * 3600,
} as const;

export const CHANNELS = ['webhook', 'mqtt'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * What an agency hears: alerts inside its scope (always) AND these filters; every given filter
 * must hold. Channels: webhook endpoints of the same agency, its MQTT alert topic
 * (`ioc/v1/alerts/{agencyId}/…`, readable only by its MQTT account).
 */
export const subscriptionFiltersSchema = z.strictObject({
  domains: z.array(z.enum(DOMAINS)).min(1).optional(),
  areaIds: z.array(areaId).min(1).max(200).optional(),
  ruleIds: z.array(ruleId).min(1).max(200).optional(),
  minSeverity: severitySchema.default('warning'),
});
export type SubscriptionFilters = z.infer<typeof subscriptionFiltersSchema>;

/** Standard Webhooks' event `type` of the notifications the platform sends. */
export const NOTIFICATION_TYPES = ['alert.firing', 'alert.resolved', 'alert.reminder', 'ping'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** One alert as a notification carries it (the receiver's view). */
export interface NotifiedAlert {
  id: string;
  ruleId: string;
  state: AlertState;
  severity: Severity;
  subjectKind: 'device' | 'area';
  subjectId: string;
  deviceId: string | null;
  deviceName: string | null;
  areaId: string;
  areaName: string;
  domain: string | null;
  metric: string | null;
  event: string | null;
  value: number | boolean | string | null;
  unit: string;
  limit: number | null;
  standard: string | null;
  /** In the subscription's language. */
  message: string;
  /** ISO 8601. */
  firingAt: string | null;
  resolvedAt: string | null;
  resolution: AlertResolution | null;
}

/**
 * The body of every webhook request and MQTT alert message (Standard Webhooks payload structure:
 * `type`, `timestamp`, `data`). `data.notificationId` equals the `webhook-id` header: the same on
 * every retry of one notification, so a receiver drops repeats by it.
 */
export interface NotificationBody {
  type: NotificationType;
  /** ISO 8601: when the notification was made (not when this attempt was). */
  timestamp: string;
  data: {
    notificationId: string;
    agencyId: string;
    subscriptionId: string;
    language: Language;
    /** The group's key: rule and area for most rules (alerts of one rule in one area go together). */
    groupKey: string;
    alerts: NotifiedAlert[];
  };
}

/** Delivery states of one notification on one channel (the outbox). */
export const DELIVERY_STATES = ['pending', 'retrying', 'delivered', 'failed', 'skipped'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
