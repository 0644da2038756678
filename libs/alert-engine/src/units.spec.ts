import { compileCondition } from './conditions';
import { compileRule, RuleCompileError, ruleActiveAt, vietnamHour } from './compile';
import { formatDuration, formatValue, renderTemplate, validateTemplates } from './messages';
import { reading, rule, T0, TestDirectory, testEngine } from './spec-support';

describe('message templates', () => {
  it('validateTemplates lists unknown placeholders of both languages, once each', () => {
    expect(
      validateTemplates({
        message: { vi: '{device} {value} {unit} {giatri}', en: '{device} {valu} {giatri} { }' },
      }),
    ).toEqual(['giatri', 'valu', ' ']);
    expect(
      validateTemplates({
        message: {
          vi: '{device}{deviceId}{area}{areaId}{metric}{value}{unit}{limit}',
          en: '{window}{standard}{severity}{event}{silentFor}{band}',
        },
      }),
    ).toEqual([]);
  });

  it('formats values per language and metric kind', () => {
    expect(formatValue(52.345, 'pm25', 'vi')).toBe('52,3');
    expect(formatValue(52.345, 'pm25', 'en')).toBe('52.3');
    expect(formatValue(0.655, 'confidence', 'vi')).toBe('0,66');
    expect(formatValue(123.6, 'pm25', 'en')).toBe('124');
    expect(formatValue(7.0, 'ph', 'en')).toBe('7');
    expect(formatValue(41.6, 'intensity', 'en')).toBe('42'); // an integer metric
    expect(formatValue(true, 'doorOpen', 'vi')).toBe('có');
    expect(formatValue('powerLoss', 'lampFault', 'en')).toBe('powerLoss');
  });

  it('writes durations in words', () => {
    expect(formatDuration(86_400, 'vi')).toBe('24 giờ');
    expect(formatDuration(8 * 3600, 'en')).toBe('8 h');
    expect(formatDuration(1800, 'vi')).toBe('30 phút');
    expect(formatDuration(3 * 86_400, 'en')).toBe('3 d');
    expect(formatDuration(45, 'en')).toBe('45 s');
  });

  it('renders what applies and blanks what does not; unknown placeholders stay', () => {
    expect(
      renderTemplate('{event} {metric} {limit}|{window}|{x}', 'vi', {
        event: 'wrongWay',
        metric: 'aqi',
        limit: 151,
      }),
    ).toBe('đi ngược chiều VN_AQI 151||{x}');
  });

  it('renders {band} from the engine’s valueBand for the value that caused the step, not the limit', () => {
    // A two-band scale standing in for VN_AQI (the platform passes @ioc/aqi's aqiValueBand).
    const valueBand = (metric: string, value: unknown) =>
      metric === 'aqi' && typeof value === 'number'
        ? value > 150
          ? { vi: 'Xấu', en: 'Bad' }
          : { vi: 'Kém', en: 'Poor' }
        : undefined;
    const engine = testEngine(new TestDirectory(), { valueBand });
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'aqi',
          condition: { op: 'above', value: 101, inclusive: true },
          message: { vi: '{value} ({band}) ≥ {limit}', en: '{value} ({band}) ≥ {limit}' },
        }),
      ],
      T0,
    );
    const [fired] = engine.evaluate(reading(new TestDirectory(), 'aq-1', T0, { aqi: 152 }));
    expect(fired?.alert.message).toEqual({ vi: '152 (Xấu) ≥ 101', en: '152 (Bad) ≥ 101' });
    // Without a band (another metric, or no valueBand) it renders as ''.
    expect(renderTemplate('{value} ({band})', 'en', { metric: 'pm25', value: 152 })).toBe('152 ()');
  });
});

describe('conditions', () => {
  it('test each operator', () => {
    const above = compileCondition({ op: 'above', value: 10 });
    expect([above.test(10, NaN), above.test(10.1, NaN), above.applies(true, NaN)]).toEqual([
      false,
      true,
      false,
    ]);
    const either = compileCondition({ op: 'rateOfChange', perMinute: 2 });
    expect([either.applies(1, NaN), either.test(1, -2), either.test(1, 1.9)]).toEqual([false, true, false]);
    const fall = compileCondition({ op: 'rateOfChange', perMinute: 2, direction: 'fall' });
    expect([fall.test(1, 3), fall.test(1, -3)]).toEqual([false, true]);
    const eq = compileCondition({ op: 'equals', value: 'powerLoss' });
    expect([eq.test('powerLoss', NaN), eq.test('none', NaN)]).toEqual([true, false]);
  });
});

describe('compileRule', () => {
  it('refuses what the engine cannot evaluate, naming the rule', () => {
    const windowRate = rule({
      id: 'rate-window',
      kind: 'threshold',
      metric: 'pm25',
      window: { seconds: 3600, aggregate: 'mean' },
      condition: { op: 'rateOfChange', perMinute: 1 },
    });
    expect(() => compileRule(windowRate)).toThrow(RuleCompileError);
    expect(() => compileRule(windowRate)).toThrow('rule rate-window: rateOfChange applies to raw values');
    const dates = rule({
      id: 'dates',
      kind: 'status',
      status: 'offline',
      validFrom: '2026-02-01T00:00:00+07:00',
      validUntil: '2026-01-01T00:00:00+07:00',
    });
    expect(() => compileRule(dates)).toThrow('validFrom must be before validUntil');
  });

  it('applies defaults: event keep-firing 900 s, window coverage 0.75', () => {
    const ev = compileRule(rule({ kind: 'event', event: 'accident' }));
    expect(ev.keepFiringMs).toBe(900_000);
    const w = compileRule(
      rule({
        kind: 'threshold',
        metric: 'pm25',
        window: { seconds: 86_400, aggregate: 'mean' },
        condition: { op: 'above', value: 50 },
      }),
    );
    expect(w.window).toEqual({ seconds: 86_400, aggregate: 'mean', minCoverage: 0.75, key: 'pm25/86400' });
  });

  it('schedules use Vietnam local hours (UTC+7)', () => {
    expect(vietnamHour(Date.parse('2026-06-01T14:00:00Z'))).toBe(21);
    expect(vietnamHour(Date.parse('2026-06-01T16:59:59Z'))).toBe(23);
    expect(vietnamHour(Date.parse('2026-06-01T17:00:00Z'))).toBe(0);
    const night = compileRule(
      rule({ kind: 'status', status: 'offline', schedule: { fromHour: 21, toHour: 6 } }),
    );
    expect(ruleActiveAt(night, Date.parse('2026-06-01T13:59:59Z'))).toBe(false);
    expect(ruleActiveAt(night, Date.parse('2026-06-01T14:00:00Z'))).toBe(true);
    expect(ruleActiveAt(night, Date.parse('2026-06-01T22:59:59Z'))).toBe(true);
    expect(ruleActiveAt(night, Date.parse('2026-06-01T23:00:00Z'))).toBe(false);
  });
});
