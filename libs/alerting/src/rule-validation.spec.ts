import type { Condition, DeviceType, RuleDefinitionInput } from '@ioc/contracts';
import { AlertingError } from './alerting-error';
import { clearIssue, escalationIssue, parseRule, type RuleCheckContext } from './rule-validation';

const RULE: RuleDefinitionInput = {
  id: 'spec-pm25',
  kind: 'threshold',
  name: { vi: 'PM2.5 cao', en: 'PM2.5 high' },
  severity: 'warning',
  metric: 'pm25',
  condition: { op: 'above', value: 100 },
  message: { vi: 'PM2.5 {value} tại {device}', en: 'PM2.5 {value} at {device}' },
};

/** A registry of three devices (the seeds' ids), as REST passes it. */
const REGISTRY: Record<string, DeviceType> = {
  'aq-tn-001': 'air-quality-station',
  'nm-tn-001': 'noise-meter',
  'tc-tn-001': 'traffic-counter',
};
const context: RuleCheckContext = { deviceType: (id) => REGISTRY[id] };

/** The field and message parseRule refuses `input` with. */
function refusal(input: unknown, ctx?: RuleCheckContext): { field?: string; message: string } {
  try {
    parseRule(input, ctx);
  } catch (error) {
    if (error instanceof AlertingError) return { field: error.field, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('clear conditions (hysteresis)', () => {
  const above = (value: number, inclusive?: boolean): Condition => ({ op: 'above', value, inclusive });
  const below = (value: number, inclusive?: boolean): Condition => ({ op: 'below', value, inclusive });

  it('refuses a clear limit on the firing side: above 100, clear below 150 (120 would fire and clear)', () => {
    const refused = refusal({ ...RULE, clear: below(150) });
    expect(refused.field).toBe('clear.value');
    expect(refused.message).toContain('hysteresis');
    expect(refusal({ ...RULE, condition: below(10), clear: above(5) }).field).toBe('clear.value');
  });

  it('accepts a clear limit inside the normal side, down to the limit itself unless both include it', () => {
    expect(clearIssue(above(100), below(95))).toBeUndefined();
    expect(clearIssue(above(100), below(100))).toBeUndefined();
    expect(clearIssue(above(100), below(100, true))).toBeUndefined(); // 100 does not fire
    expect(clearIssue(above(100, true), below(100))).toBeUndefined(); // 100 does not clear
    expect(clearIssue(above(100, true), below(100, true))?.field).toBe('clear.value'); // 100 does both
    expect(clearIssue(below(6.5), above(6.6))).toBeUndefined();
    expect(clearIssue(below(6.5), above(6.4))?.field).toBe('clear.value');
    expect(() => parseRule({ ...RULE, clear: below(96) })).not.toThrow();
  });

  it('refuses a same-direction clear, an outside range clear and a clear on another quantity', () => {
    expect(clearIssue(above(100), above(150))?.field).toBe('clear');
    expect(clearIssue({ op: 'outside', min: 6.5, max: 8.5 }, below(8))?.field).toBe('clear');
    expect(clearIssue({ op: 'outside', min: 6.5, max: 8.5 }, { op: 'outside', min: 6, max: 9 })?.field).toBe(
      'clear',
    );
    expect(clearIssue(above(100), { op: 'rateOfChange', perMinute: 1 })?.field).toBe('clear');
    expect(
      clearIssue(
        { op: 'rateOfChange', perMinute: 5, direction: 'rise' },
        { op: 'rateOfChange', perMinute: 1, direction: 'fall' },
      ),
    ).toBeUndefined();
    expect(
      clearIssue(
        { op: 'rateOfChange', perMinute: 5 },
        { op: 'rateOfChange', perMinute: 1, direction: 'fall' },
      )?.field,
    ).toBe('clear');
  });

  it('lets equals clear on another value only, of a kind the firing condition tests', () => {
    const fault: Condition = { op: 'equals', value: 'defectiveLamp' };
    expect(clearIssue(fault, { op: 'equals', value: 'none' })).toBeUndefined();
    expect(clearIssue(fault, { op: 'equals', value: 'defectiveLamp' })?.field).toBe('clear.value');
    expect(clearIssue(fault, below(1))?.field).toBe('clear');
    expect(clearIssue(above(1), { op: 'equals', value: 'none' })?.field).toBe('clear');
    expect(clearIssue({ op: 'equals', value: true }, { op: 'equals', value: false })).toBeUndefined();
  });
});

describe('escalations', () => {
  it('must lie beyond the firing condition in the same direction', () => {
    const refused = refusal({
      ...RULE,
      escalations: [{ severity: 'critical', condition: { op: 'above', value: 90 } }],
    });
    expect(refused.field).toBe('escalations.0.condition.value');
    expect(refused.message).toContain('beyond the firing condition');
    expect(
      refusal({ ...RULE, escalations: [{ severity: 'critical', condition: { op: 'below', value: 50 } }] })
        .field,
    ).toBe('escalations.0.condition');
    expect(() =>
      parseRule({ ...RULE, escalations: [{ severity: 'critical', condition: { op: 'above', value: 150 } }] }),
    ).not.toThrow();
    const range: Condition = { op: 'outside', min: 6.5, max: 8.5 };
    expect(escalationIssue(range, { op: 'outside', min: 6, max: 9 }, 0)).toBeUndefined();
    expect(escalationIssue(range, { op: 'above', value: 9 }, 0)).toBeUndefined();
    expect(escalationIssue(range, { op: 'outside', min: 7, max: 9 }, 1)?.field).toBe(
      'escalations.1.condition',
    );
    expect(
      escalationIssue({ op: 'above', value: 100 }, { op: 'above', value: 100, inclusive: true }, 0)?.field,
    ).toBe('escalations.0.condition.value');
  });

  it('are refused on rules with no condition (status, noData, an event without metric)', () => {
    expect(
      refusal({
        id: 'spec-offline',
        kind: 'status',
        status: 'offline',
        name: { vi: 'x', en: 'x' },
        severity: 'warning',
        message: { vi: '{device}', en: '{device}' },
        escalations: [{ severity: 'critical', condition: { op: 'above', value: 1 } }],
      }).field,
    ).toBe('escalations.0.condition');
  });
});

describe('the metric check on every scope axis', () => {
  it('uses the registered devices of scope.deviceIds, refusing an unknown id', () => {
    const noise = refusal({ ...RULE, scope: { deviceIds: ['nm-tn-001'] } }, context);
    expect(noise).toMatchObject({ field: 'metric', message: expect.stringContaining('noise-meter') });
    expect(() => parseRule({ ...RULE, scope: { deviceIds: ['aq-tn-001'] } }, context)).not.toThrow();
    const unknown = refusal({ ...RULE, scope: { deviceIds: ['aq-tn-001', 'zz-none'] } }, context);
    expect(unknown).toMatchObject({
      field: 'scope.deviceIds',
      message: expect.stringContaining('"zz-none"'),
    });
    expect(refusal({ ...RULE, scope: { deviceIds: ['.*'] } }, context).field).toBe('scope.deviceIds');
    // The seed loader has no registry: device ids are not looked up.
    expect(() => parseRule({ ...RULE, scope: { deviceIds: ['zz-none'] } })).not.toThrow();
  });

  it("uses a domain's device types, and every type for areas or attributes alone", () => {
    expect(refusal({ ...RULE, scope: { domains: ['traffic'] } })).toMatchObject({
      field: 'metric',
      message: expect.stringContaining('traffic-counter'),
    });
    expect(() => parseRule({ ...RULE, scope: { domains: ['env'] } })).not.toThrow();
    expect(() => parseRule({ ...RULE, scope: { areaIds: ['tay-ninh'] } })).not.toThrow();
    expect(
      refusal({ ...RULE, scope: { deviceTypes: ['air-quality-station'], domains: ['traffic'] } }),
    ).toMatchObject({
      field: 'metric',
      message: expect.stringContaining('(none)'),
    });
    expect(
      refusal({
        id: 'spec-accident',
        kind: 'event',
        event: 'accident',
        name: { vi: 'x', en: 'x' },
        severity: 'critical',
        message: { vi: '{event}', en: '{event}' },
        scope: { domains: ['env'] },
      }).field,
    ).toBe('event');
  });
});

describe('text fields', () => {
  const refused = 'control and bidirectional characters are refused';
  it.each([
    ['name.vi', { name: { vi: 'a\u0000b\u202e', en: 'x' } }],
    ['message.vi', { message: { vi: 'a\u001b[31m\u202e{device}', en: '{device}' } }],
    ['description.en', { description: { vi: 'x', en: 'a\u2066' } }],
    ['source.standard', { source: { standard: 'QCVN\u0085' } }],
    ['source.note', { source: { standard: 'QCVN', note: 'x\u200f' } }],
    ['labels.team', { labels: { team: 'a\u007f' } }],
  ])('refuses a control or bidirectional character in %s', (field, patch) => {
    const answer = refusal({ ...RULE, ...patch });
    expect(answer.field).toBe(field);
    expect(answer.message).toContain(refused);
  });
});
