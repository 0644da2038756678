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
      reading: {
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
    });
  });

  it('ignores an area or type claimed in the payload (refused as unknown fields)', () => {
    const outcome = pipeline.process(
      topic,
      encode({ ts: now, areaId: 'elsewhere', metrics: { pm25: 1, pm10: 1 } }),
    );
    expect(outcome).toMatchObject({ ok: false, rejection: { reason: 'schema-violation' } });
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
      'a value out of its physical range',
      topic,
      encode({ ts: now, metrics: { pm25: -3, pm10: 1 } }),
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
    if (!outcome.ok) {
      expect(outcome.rejection.reason).toBe(reason);
      expect(outcome.rejection.detail.length).toBeGreaterThan(5);
    }
  });

  it('names the device of a refused message when the topic names one', () => {
    const outcome = pipeline.process(topic, Buffer.from('not json'));
    expect(outcome).toMatchObject({ ok: false, deviceId: station.id, domain: 'env' });
  });
});
