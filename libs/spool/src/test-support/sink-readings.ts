import type { Reading } from '@ioc/contracts';

/** 2026-11-27 08:00:00 UTC: the first test reading's time; reading i is i seconds later. */
export const SINK_SPEC_T0 = Date.UTC(2026, 10, 27, 8, 0, 0);

/** Test reading number `i` of one traffic counter (`intensity` = i unless `metrics` is given). */
export function sinkSpecReading(i: number, metrics: Reading['metrics'] = { intensity: i }): Reading {
  return {
    deviceId: 'tc-sink-1',
    deviceType: 'traffic-counter',
    domain: 'traffic',
    kind: 'telemetry',
    areaId: 'ward-1',
    areaPath: ['province', 'ward-1'],
    location: { lat: 11.3, lon: 106.1 },
    ts: SINK_SPEC_T0 + i * 1000,
    metrics,
  };
}
