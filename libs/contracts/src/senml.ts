import { DEVICE_TYPE_CONTRACTS, type DeviceType, type DeviceTypeContract } from './device-types';
import { fastAcceptsValue } from './fast-payload-validator';
import { isMetricName, METRIC_CATALOGUE, type MetricName } from './metric-catalogue';
import {
  checkTimestamp,
  judgeMetricValue,
  type PayloadOptions,
  quote as quoteForDetail,
  type ValidPayload,
} from './payload-refusals';
import type { MetricValue } from './reading';
import type { PartRejection, Rejection } from './rejections';

/**
 * SenML JSON packs (RFC 8428) on a device's telemetry topic: a datalogger or gateway uploading a
 * backlog, or any SenML-speaking device. How a pack maps onto the platform:
 *
 * - The device is the one the topic names, never the payload. A record's name (`bn` + `n`,
 *   RFC 8428 §4.5.1) is a metric of the device type's telemetry (`pm25`), optionally prefixed
 *   with the topic's device id and a colon (`"bn":"aq-tn-001:"`, `"n":"pm25"`); a name naming
 *   another device, or no metric, refuses that record.
 * - Time (§4.5.3): `bt` + `t`, in seconds since 1970 (fractions allowed); a resolved time below
 *   2^28 is relative to the receipt time; no time at all means "now". Records with the same resolved
 *   time form one reading (milliseconds, rounded), so a pack yields one reading per distinct time.
 * - Unit: `u`, else `bu`. Optional (a name implies its catalogue unit); when given it must be the
 *   metric's catalogue UCUM code, or the SenML registry symbol for it (RFC 8428 §12.1, RFC 8798)
 *   listed in SENML_UNIT_TO_UCUM. Nothing is converted: `%RH` for a 0–1 humidity is refused,
 *   reason `unit-mismatch`.
 * - Value: `v` (+ `bv`) for numeric metrics, `vb` for booleans, `vs` for enumerations and text;
 *   then judged like a metric of a single message (range, integer, enum). `vd` and sums (`s`,
 *   `bs`) are not readings of any catalogue metric and refuse the record.
 * - Refused whole: base fields of the wrong type, `bver` above 10 (§4.4), a field ending in `_`
 *   (must-understand, §4.4), a record that is not an object. Other unknown fields are ignored, as
 *   §4.4 prescribes for extensions.
 * - Refused per record (with its index): all else, including a second record for the same metric
 *   at the same time (`duplicate-key`) and a time outside the clock window.
 */

/**
 * SenML unit symbols (RFC 8428 §12.1, RFC 8798) whose UCUM code, as the metric catalogue writes it,
 * differs. A unit equal to the catalogue's UCUM code is always accepted; nothing is converted.
 */
export const SENML_UNIT_TO_UCUM: Readonly<Record<string, string>> = Object.freeze({
  '/': '1',
  count: '1',
  pH: '[pH]',
  dBm: 'dB[mW]',
  kWh: 'kW.h',
  Wh: 'W.h',
  '1/s': '/s',
});

/** The highest SenML version this receiver understands (RFC 8428 §4.4: 10). */
const SENML_VERSION = 10;
/** RFC 8428 §4.5.3: resolved times below 2^28 s are relative to the current time. */
const RELATIVE_TIME_LIMIT_S = 2 ** 28;

/**
 * Whether a JSON array is a SenML pack rather than a batch of single-form messages: its first
 * element is an object with neither `metrics` nor `ts`, the fields every batch element carries.
 */
export function isSenmlPack(json: readonly unknown[]): boolean {
  const first = json[0];
  return (
    typeof first === 'object' &&
    first !== null &&
    !Array.isArray(first) &&
    !Object.hasOwn(first, 'metrics') &&
    !Object.hasOwn(first, 'ts')
  );
}

type SenmlRecord = Record<string, unknown>;

/** What parseSenmlPack answers: the pack refused whole, or its readings and refused records. */
export type SenmlOutcome = { whole: Rejection } | { readings: ValidPayload[]; rejections: PartRejection[] };

const isObject = (value: unknown): value is SenmlRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** RFC 8428 §4.5.1: name characters; the first is not one of `-:./_`. */
const SENML_NAME = /^[A-Za-z0-9][-:./_A-Za-z0-9]*$/;

/**
 * A telemetry SenML pack of a `type` device → readings grouped by time, and each refused record.
 * The pack's length has been checked against MAX_ENTRIES_PER_MESSAGE by the caller. With
 * `tryFastPath` false every value is judged by zod alone (the reference the fast path is tested
 * against); the answer is the same either way.
 */
export function parseSenmlPack(
  type: DeviceType,
  records: readonly unknown[],
  options: PayloadOptions,
  tryFastPath: boolean,
): SenmlOutcome {
  const contract: DeviceTypeContract = DEVICE_TYPE_CONTRACTS[type];
  const names: readonly MetricName[] = [...contract.telemetry.required, ...contract.telemetry.optional];
  const allowed = new Set<string>(names);
  const ownPrefix = options.deviceId === undefined ? undefined : `${options.deviceId}:`;

  // Structure first: any broken base field or must-understand field refuses the whole pack.
  for (let index = 0; index < records.length; index++) {
    const record = records[index];
    if (!isObject(record)) return whole(`[${index}] must be a SenML record (a JSON object)`);
    for (const key of Object.keys(record)) {
      if (key.endsWith('_')) {
        return whole(
          `[${index}]: must-understand field ${quoteForDetail(key)} is not supported (RFC 8428 §4.4)`,
        );
      }
    }
    for (const [field, type] of [
      ['bn', 'string'],
      ['bu', 'string'],
      ['bt', 'number'],
      ['bv', 'number'],
      ['bs', 'number'],
      ['bver', 'number'],
    ] as const) {
      const value = record[field];
      if (value !== undefined && (typeof value !== type || (type === 'number' && !Number.isFinite(value)))) {
        return whole(`[${index}].${field} must be a ${type === 'number' ? 'finite number' : 'string'}`);
      }
    }
    const version = record['bver'];
    if (
      typeof version === 'number' &&
      (!Number.isInteger(version) || version < 1 || version > SENML_VERSION)
    ) {
      return whole(
        `[${index}].bver ${version} is not a SenML version this platform understands (1–${SENML_VERSION})`,
      );
    }
  }

  const byTime = new Map<number, { metrics: Record<string, MetricValue>; records: Record<string, number> }>();
  const rejections: PartRejection[] = [];
  let bn = '';
  let bt = 0;
  let bu: string | undefined;
  let bv = 0;
  for (let index = 0; index < records.length; index++) {
    const record = records[index] as SenmlRecord;
    if (typeof record['bn'] === 'string') bn = record['bn'];
    if (typeof record['bt'] === 'number') bt = record['bt'];
    if (typeof record['bu'] === 'string') bu = record['bu'];
    if (typeof record['bv'] === 'number') bv = record['bv'];
    const prefix = `[${index}]`;
    const refuse = (reason: Rejection['reason'], detail: string, metric?: string): void => {
      rejections.push(metric === undefined ? { reason, detail, index } : { reason, detail, index, metric });
    };

    const n = record['n'];
    if (n !== undefined && typeof n !== 'string') {
      refuse('schema-violation', `${prefix}.n must be a string`);
      continue;
    }
    const name = bn + (n ?? '');
    if (!SENML_NAME.test(name)) {
      refuse(
        'schema-violation',
        `${prefix}: name ${quoteForDetail(name)} is not a SenML name (RFC 8428 §4.5.1)`,
      );
      continue;
    }
    const colon = name.lastIndexOf(':');
    const metric = colon < 0 ? name : name.slice(colon + 1);
    if (colon >= 0 && name.slice(0, colon + 1) !== ownPrefix) {
      refuse(
        'schema-violation',
        `${prefix}: name ${quoteForDetail(name)} names another device; use the metric, or prefix it with the topic's device id`,
        metric.slice(0, 40),
      );
      continue;
    }
    if (!allowed.has(metric) || !isMetricName(metric)) {
      refuse('schema-violation', `${prefix}: unknown metric ${quoteForDetail(metric)}`, metric.slice(0, 40));
      continue;
    }
    const definition = METRIC_CATALOGUE[metric];

    const u = record['u'];
    if (u !== undefined && typeof u !== 'string') {
      refuse('schema-violation', `${prefix}.u must be a string`, metric);
      continue;
    }
    const unit = u ?? bu;
    if (unit !== undefined && unit !== definition.ucum && SENML_UNIT_TO_UCUM[unit] !== definition.ucum) {
      const expected = definition.unit === '' ? definition.ucum : `${definition.ucum}, ${definition.unit}`;
      refuse(
        'unit-mismatch',
        `${prefix}: unit ${quoteForDetail(unit)} is not the unit of ${metric} (${expected}); nothing is converted`,
        metric,
      );
      continue;
    }

    const t = record['t'];
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t))) {
      refuse('schema-violation', `${prefix}.t must be a finite number of seconds`, metric);
      continue;
    }
    const seconds = bt + (t ?? 0);
    const tsMs = Math.round(
      (seconds < RELATIVE_TIME_LIMIT_S ? options.now / 1000 + seconds : seconds) * 1000,
    );

    const fields = ['v', 'vs', 'vb', 'vd', 's'].filter((field) => record[field] !== undefined);
    const wanted =
      definition.kind === 'number' || definition.kind === 'integer'
        ? 'v'
        : definition.kind === 'boolean'
          ? 'vb'
          : 'vs';
    if (fields.length !== 1 || fields[0] !== wanted) {
      refuse(
        'schema-violation',
        `${prefix}: ${metric} takes exactly one value, in "${wanted}"` +
          (fields.length === 0
            ? ', and the record has none'
            : `, not ${fields.map((f) => `"${f}"`).join(', ')}`),
        metric,
      );
      continue;
    }
    let value = record[wanted];
    // bv only when set: 0 + -0 would turn a -0 into 0.
    if (wanted === 'v' && typeof value === 'number' && bv !== 0) value = bv + value;
    let accepted: MetricValue;
    if (tryFastPath && fastAcceptsValue(metric, value)) accepted = value as MetricValue;
    else {
      const judged = judgeMetricValue(metric, value, prefix, [metric]);
      if (!judged.ok) {
        refuse(judged.rejection.reason, judged.rejection.detail, metric);
        continue;
      }
      accepted = judged.value;
    }

    const late = checkTimestamp(tsMs, options, prefix);
    if (late) {
      refuse(late.reason, late.detail, metric);
      continue;
    }
    let reading = byTime.get(tsMs);
    if (!reading) {
      reading = { metrics: {}, records: {} };
      byTime.set(tsMs, reading);
    }
    const earlier = reading.records[metric];
    if (earlier !== undefined) {
      refuse(
        'duplicate-key',
        `${prefix}: a second ${metric} at the time of record [${earlier}] (${new Date(tsMs).toISOString()})`,
        metric,
      );
      continue;
    }
    reading.records[metric] = index;
    reading.metrics[metric] = accepted;
  }

  const readings: ValidPayload[] = [];
  for (const [ts, { metrics }] of byTime) {
    const ordered: Record<string, MetricValue> = {};
    for (const name of names) if (Object.hasOwn(metrics, name)) ordered[name] = metrics[name] as MetricValue;
    readings.push({ ts, metrics: ordered });
  }
  return { readings, rejections };
}

function whole(detail: string): SenmlOutcome {
  return { whole: { reason: 'schema-violation', detail } };
}
