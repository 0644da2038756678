import { deviceTopic, type Device } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { IngestPipeline } from './ingest-pipeline';

const registry = new DeviceRegistry(loadSeeds());
const now = Date.UTC(2026, 10, 27, 3, 0, 0);
const pipeline = new IngestPipeline(registry, {
  maxPayloadBytes: 1024,
  maxFutureSkewMs: 60_000,
  now: () => now,
});
const station = registry.listDevices({ type: 'air-quality-station' })[0] as Device;
const topic = deviceTopic('env', station.id, 'telemetry');
const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('IngestPipeline', () => {
  it('turns a valid publish into a Reading enriched from the registry, not from the payload', () => {
    const outcome = pipeline.process(
      topic,
      encode({ ts: now - 1000, seq: 7, metrics: { pm25: 12.5, pm10: 20 } }),
    );
    expect(outcome).toEqual({
      ok: true,
      readings: [
        {
          deviceId: station.id,
          deviceType: station.type,
          domain: 'env',
          kind: 'telemetry',
          areaId: station.areaId,
          areaPath: registry.areaPath(station.areaId),
          location: station.location,
          ts: now - 1000,
          seq: 7,
          metrics: { pm25: 12.5, pm10: 20 },
        },
      ],
      rejections: [],
      deviceId: station.id,
      domain: 'env',
    });
  });

  it('ignores an area or type claimed in the payload (refused as unknown fields)', () => {
    const outcome = pipeline.process(
      topic,
      encode({ ts: now, areaId: 'elsewhere', metrics: { pm25: 1, pm10: 1 } }),
    );
    expect(outcome).toMatchObject({ ok: false, rejections: [{ reason: 'schema-violation' }] });
  });

  it.each([
    ['an oversized payload', topic, Buffer.alloc(1025, 0x20), 'payload-too-large'],
    ['a topic outside the tree', 'foo/bar', encode({}), 'invalid-topic'],
    [
      'an unknown device',
      deviceTopic('env', 'ghost-001', 'telemetry'),
      encode({ ts: now, metrics: {} }),
      'unknown-device',
    ],
    [
      'a device under the wrong domain',
      deviceTopic('traffic', station.id, 'telemetry'),
      encode({ ts: now, metrics: {} }),
      'wrong-domain',
    ],
    ['malformed JSON', topic, Buffer.from('{"ts":'), 'malformed-json'],
    [
      'a value out of its physical range (its only metric)',
      topic,
      encode({ ts: now, metrics: { pm25: -3 } }),
      'out-of-range',
    ],
    [
      'a timestamp from the future',
      topic,
      encode({ ts: now + 3_600_000, metrics: { pm25: 1, pm10: 1 } }),
      'timestamp-in-future',
    ],
    [
      'an event from a station that raises none',
      deviceTopic('env', station.id, 'event'),
      encode({ ts: now, event: 'x', metrics: {} }),
      'schema-violation',
    ],
  ])('refuses %s with reason %s', (_what, t, payload, reason) => {
    const outcome = pipeline.process(t, payload);
    expect(outcome.ok).toBe(false);
    expect(outcome.rejections).toHaveLength(1);
    expect(outcome.rejections[0]?.reason).toBe(reason);
    expect(outcome.rejections[0]?.detail.length).toBeGreaterThan(5);
  });

  it('keeps the other metrics of a station whose pm10 analyser is down', () => {
    const outcome = pipeline.process(topic, encode({ ts: now, metrics: { pm25: 12.5, no2: 40.1, co: 800 } }));
    expect(outcome).toMatchObject({
      ok: true,
      readings: [{ deviceId: station.id, ts: now, metrics: { pm25: 12.5, no2: 40.1, co: 800 } }],
      rejections: [],
    });
  });

  it('keeps the valid metrics of a reading and refuses each invalid one, naming it', () => {
    const outcome = pipeline.process(topic, encode({ ts: now, metrics: { pm25: 12.5, pm10: -1, no2: 'x' } }));
    expect(outcome).toMatchObject({
      ok: true,
      readings: [{ metrics: { pm25: 12.5 } }],
      rejections: [
        { reason: 'out-of-range', metric: 'pm10' },
        { reason: 'schema-violation', metric: 'no2' },
      ],
      deviceId: station.id,
      domain: 'env',
    });
  });

  it('turns a batch into one Reading per valid element, each enriched from the registry', () => {
    const batch = [0, 1, 2].map((i) => ({ ts: now - 3_600_000 + i * 60_000, seq: i, metrics: { pm25: i } }));
    const outcome = pipeline.process(
      topic,
      encode([...batch, { ts: now + 3_600_000, metrics: { pm25: 1 } }]),
    );
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.rejections));
    expect(outcome.readings.map((r) => [r.ts, r.seq, r.metrics, r.areaId, r.deviceType])).toEqual(
      batch.map((b) => [b.ts, b.seq, b.metrics, station.areaId, station.type]),
    );
    expect(outcome.rejections).toMatchObject([{ reason: 'timestamp-in-future', index: 3 }]);
  });

  it('checks a SenML base name against the device id of the topic', () => {
    const bt = (now - 60_000) / 1000;
    const own = pipeline.process(topic, encode([{ bn: `${station.id}:`, bt, n: 'pm25', u: 'ug/m3', v: 3 }]));
    expect(own).toMatchObject({
      ok: true,
      readings: [{ deviceId: station.id, ts: now - 60_000, metrics: { pm25: 3 } }],
    });
    const other = pipeline.process(topic, encode([{ bn: 'aq-elsewhere-001:', bt, n: 'pm25', v: 3 }]));
    expect(other).toMatchObject({ ok: false, rejections: [{ reason: 'schema-violation', index: 0 }] });
  });

  it('refuses a message with a duplicate key whole', () => {
    const outcome = pipeline.process(topic, Buffer.from(`{"ts":${now},"metrics":{"pm25":1,"pm25":999}}`));
    expect(outcome).toMatchObject({
      ok: false,
      rejections: [{ reason: 'duplicate-key' }],
      deviceId: station.id,
    });
  });

  it('names the device of a refused message when the topic names one', () => {
    const outcome = pipeline.process(topic, Buffer.from('not json'));
    expect(outcome).toMatchObject({ ok: false, deviceId: station.id, domain: 'env' });
  });
});
