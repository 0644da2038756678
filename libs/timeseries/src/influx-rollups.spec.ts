import {
  backlogLines,
  CQ_REACH_MS,
  hourRanges,
  isBeyondRetention,
  pendingHoursOf,
  retentionPolicyStatement,
  RollupBacklog,
  rollupFields,
  rollupSelect,
  shardGroupDuration,
} from './influx-rollups';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 27, 12, 30, 0);

describe('RollupBacklog', () => {
  it('keeps late hours for the adapter and recent ones only until the CQs have seen them', () => {
    const backlog = new RollupBacklog();
    backlog.record(NOW - 2 * DAY + 5 * MINUTE, NOW); // replayed backlog: the CQs never see it
    backlog.record(NOW - CQ_REACH_MS - 1, NOW); // just too late for the minute CQ
    backlog.record(NOW - 2 * MINUTE, NOW); // the CQs will handle it
    const late = [NOW - 2 * DAY - 30 * MINUTE, Date.UTC(2026, 10, 27, 12)];
    expect(backlog.take(false, NOW)).toEqual(late);
    expect(backlog.take(false, NOW)).toEqual([]);
    expect(backlog.size).toBe(1); // the recent hour, until compact() or the CQs settle it
    expect(backlog.take(true, NOW)).toEqual([Date.UTC(2026, 10, 27, 12)]);
    expect(backlog.size).toBe(0);

    backlog.record(NOW - MINUTE, NOW);
    expect(backlog.take(true, NOW + HOUR)).toEqual([]); // long settled by the CQs
    backlog.putBack([HOUR, 0]);
    expect(backlog.take(false, NOW)).toEqual([0, HOUR]);
  });
});

describe('backlog markers', () => {
  it('are pending while written after the last roll-up began', () => {
    expect(backlogLines('written', 1234.5, [0, HOUR])).toEqual([
      'rollup_backlog written=1234i 0',
      `rollup_backlog written=1234i ${HOUR}`,
    ]);
    expect(
      pendingHoursOf([
        { time: 3 * HOUR, written: 10, rolled: null },
        { time: 0, written: 10, rolled: 5 },
        { time: HOUR, written: 10, rolled: 11 },
        { time: 2 * HOUR, written: null, rolled: 11 },
      ]),
    ).toEqual([0, 3 * HOUR]);
  });
});

describe('hourRanges', () => {
  it('joins consecutive hours into bounded ranges', () => {
    expect(hourRanges([0, HOUR, 2 * HOUR, 5 * HOUR], 24)).toEqual([
      { from: 0, to: 3 * HOUR },
      { from: 5 * HOUR, to: 6 * HOUR },
    ]);
    expect(hourRanges([0, HOUR, 2 * HOUR], 2)).toEqual([
      { from: 0, to: 2 * HOUR },
      { from: 2 * HOUR, to: 3 * HOUR },
    ]);
    expect(hourRanges([], 24)).toEqual([]);
  });
});

describe('InfluxQL of the rollups', () => {
  it('names rollup columns as wildcard aggregation does', () => {
    expect(rollupFields('1m', 'pm25')).toEqual({
      sum: 'sum_pm25',
      count: 'count_pm25',
      min: 'min_pm25',
      max: 'max_pm25',
    });
    expect(rollupFields('1h', 'pm25')).toEqual({
      sum: 'sum_sum_pm25',
      count: 'sum_count_pm25',
      min: 'min_min_pm25',
      max: 'max_max_pm25',
    });
  });

  it('quotes every name and bounds a backlog range by time', () => {
    expect(rollupSelect('1m', 'i"o\'c', 'autogen', { from: HOUR, to: 3 * HOUR })).toBe(
      `SELECT sum(*), count(*), min(*), max(*) INTO "i\\"o'c"."rp_1m"."readings_1m" FROM "i\\"o'c"."autogen"."readings" ` +
        'WHERE time >= 3600000ms AND time <= 10799999ms GROUP BY time(1m), *',
    );
    expect(rollupSelect('1h', 'ioc', 'raw')).toBe(
      'SELECT sum(/^(sum|count)_/), min(/^min_/), max(/^max_/) INTO "ioc"."rp_1h"."readings_1h" ' +
        'FROM "ioc"."rp_1m"."readings_1m" GROUP BY time(1h), *',
    );
    expect(retentionPolicyStatement('CREATE', 'rp_1m', 'ioc', 2 * 365 * DAY)).toBe(
      'CREATE RETENTION POLICY "rp_1m" ON "ioc" DURATION 63072000000ms REPLICATION 1 SHARD DURATION 7d',
    );
    expect(retentionPolicyStatement('ALTER', 'autogen', 'ioc', Infinity)).toBe(
      'ALTER RETENTION POLICY "autogen" ON "ioc" DURATION INF SHARD DURATION 30d',
    );
  });

  it('sizes shard groups to the retention, never longer than it', () => {
    expect(shardGroupDuration(HOUR)).toBe('1h');
    expect(shardGroupDuration(90 * DAY)).toBe('1d');
    expect(shardGroupDuration(2 * 365 * DAY)).toBe('7d');
    expect(shardGroupDuration(10 * 365 * DAY)).toBe('30d');
  });

  it('recognises the partial write of points beyond retention, and nothing else', () => {
    expect(isBeyondRetention('partial write: points beyond retention policy dropped=3')).toBe(true);
    expect(isBeyondRetention('partial write: field type conflict: ... dropped=1')).toBe(false);
    expect(isBeyondRetention(undefined)).toBe(false);
  });
});
