import { type Device, DEVICE_TYPE_CONTRACTS, METRIC_CATALOGUE, deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { type PlatformOptions, type RunningPlatform, eventually, startPlatform } from '@ioc/testing';
import { collectMessages, DeviceClients, getJson, liveClient, mosquittoPub, mosquittoSub } from './clients';

const registry = new DeviceRegistry(loadSeeds());

function firstDevice(type: Device['type']): Device {
  const device = registry.listDevices({ type })[0];
  if (!device) throw new Error(`the seeds have no ${type}`);
  return device;
}

interface LatestBody {
  metrics: Record<string, { value: unknown; ts: number }>;
}

/**
 * One reading's whole path through real processes: MQTT publish → broker validation → store →
 * REST and socket.io. Shared by the embedded and the InfluxDB runs.
 */
export function defineReadingPathTests(platformOptions: () => PlatformOptions): void {
  let platform: RunningPlatform;
  let publisher: DeviceClients;
  const station = firstDevice('air-quality-station');
  const telemetryTopic = deviceTopic(station.domain, station.id, 'telemetry');
  // Each test uses its own minute in the recent past, so their readings never collide.
  let clock = Date.now() - 60 * 60_000;
  const nextTs = (): number => (clock += 60_000);

  const latest = async (deviceId: string): Promise<LatestBody> =>
    (await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/devices/${deviceId}/latest`))
      .body as unknown as LatestBody;
  const latestTs = (deviceId: string, metric: string, ts: number) =>
    eventually(
      async () => {
        const body = await latest(deviceId);
        return body.metrics[metric]?.ts === ts ? body : undefined;
      },
      15_000,
      `${deviceId}.${metric} at ${ts} readable by REST`,
    );

  beforeAll(async () => {
    platform = await startPlatform(platformOptions());
    publisher = new DeviceClients(platform.mqttUrl, (id) => platform.deviceSecret(id));
  }, 60_000);

  afterAll(async () => {
    await publisher?.endAll();
    await platform?.stop();
  });

  it('stores a QoS 1 reading from MQTT.js and serves it by REST (latest and history) and live on socket.io', async () => {
    const live = await liveClient(platform.httpUrl, await platform.admin());
    try {
      expect(await live.subscribe({ device: station.id })).toEqual({
        ok: true,
        rooms: [`device:${station.id}`],
      });
      const ts = nextTs();
      const metrics = { pm25: 37.5, pm10: 61.25, no2: 41, temperature: 31.5, relativeHumidity: 0.72 };
      await publisher.publishAsync(telemetryTopic, JSON.stringify({ ts, seq: 1, metrics }), { qos: 1 });

      const body = await latestTs(station.id, 'pm25', ts);
      for (const [name, value] of Object.entries(metrics)) {
        expect(body.metrics[name]).toMatchObject({
          value,
          ts,
          unit: METRIC_CATALOGUE[name as keyof typeof metrics].unit,
        });
      }

      const history = await getJson(
        await platform.admin(),
        `${platform.httpUrl}/api/v1/devices/${station.id}/history?metric=pm10&from=${ts - 1000}&to=${ts + 1000}`,
      );
      expect(history.status).toBe(200);
      expect(history.body['points']).toEqual([{ ts, value: metrics.pm10 }]);

      const pushed = await eventually(
        async () => live.readings.find((r) => r.ts === ts),
        10_000,
        'live reading',
      );
      expect(pushed).toMatchObject({
        deviceId: station.id,
        deviceType: 'air-quality-station',
        domain: 'env',
        kind: 'telemetry',
        areaId: station.areaId,
        areaPath: registry.areaPath(station.areaId),
        location: station.location,
        seq: 1,
        metrics,
      });
    } finally {
      live.close();
    }
  });

  it('stores a reading published by Debian mosquitto_pub, logged in as its device', async () => {
    const light = firstDevice('street-light');
    const ts = nextTs();
    await mosquittoPub(
      platform.mqttPort,
      deviceTopic('lighting', light.id, 'telemetry'),
      JSON.stringify({
        ts: new Date(ts).toISOString(),
        metrics: { on: true, illuminanceLevel: 0.6, activePower: 72.5 },
      }),
      1,
      { username: light.id, password: platform.deviceSecret(light.id) },
    );
    const body = await latestTs(light.id, 'on', ts);
    expect(body.metrics['on']).toMatchObject({ value: true, ts });
    expect(body.metrics['illuminanceLevel']).toMatchObject({ value: 0.6, ts });
  });

  it('rejects malformed, forbidden-topic and out-of-range messages with their reasons and keeps the valid ones beside them', async () => {
    const stationClient = await publisher.client(station.id);
    const errors = collectMessages(stationClient);
    const unknownTopic = deviceTopic('env', 'no-such-device', 'telemetry');
    await stationClient.subscribeAsync(deviceTopic('env', station.id, 'error'), { qos: 0 });
    // A device may read its own error topic, no other (SUBACK 0x80, which mqtt.js turns into a
    // rejection).
    await expect(
      stationClient.subscribeAsync(deviceTopic('env', 'no-such-device', 'error'), { qos: 0 }),
    ).rejects.toThrow(/Subscribe error/);
    const mosquittoErrors = mosquittoSub(platform.mqttPort, deviceTopic('env', station.id, 'error'), 3, 10, {
      username: station.id,
      password: platform.deviceSecret(station.id),
    });
    await mosquittoErrors.ready;
    const statsBefore = (await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/ingest/stats`))
      .body;

    const [before, badTs, after] = [nextTs(), nextTs(), nextTs()];
    // Every message from the station's own connection: the one on another id's topic is refused
    // as forbidden-topic and answered on the station's own error topic.
    const publish = (topic: string, payload: string) =>
      publisher.publishAsync(topic, payload, { qos: 1 }, station.id);
    await publish(telemetryTopic, JSON.stringify({ ts: before, metrics: { pm25: 10, pm10: 20 } }));
    await publish(telemetryTopic, '{"ts": 1795741200000, "metrics": {"pm25": 12,');
    await publish(unknownTopic, JSON.stringify({ ts: badTs, metrics: { pm25: 10, pm10: 20 } }));
    await publish(telemetryTopic, JSON.stringify({ ts: badTs, metrics: { pm25: 5000, pm10: 20 } }));
    await publish(telemetryTopic, JSON.stringify({ ts: after, metrics: { pm25: 11, pm10: 21 } }));

    await latestTs(station.id, 'pm25', after);
    const history = await getJson(
      await platform.admin(),
      `${platform.httpUrl}/api/v1/devices/${station.id}/history?metric=pm25&from=${before}&to=${after + 1}`,
    );
    expect(history.body['points']).toEqual([
      { ts: before, value: 10 },
      { ts: after, value: 11 },
    ]);

    const reasons = await eventually(
      async () => {
        const seen = errors.map((m) => m.body['reason']);
        return seen.length >= 3 ? seen : undefined;
      },
      10_000,
      'three error answers',
    );
    expect(reasons.sort()).toEqual(['forbidden-topic', 'malformed-json', 'out-of-range']);
    const outOfRange = errors.find((m) => m.body['reason'] === 'out-of-range');
    expect(outOfRange?.topic).toBe(deviceTopic('env', station.id, 'error'));
    expect(String(outOfRange?.body['detail'])).toContain('pm25');

    const viaMosquitto = (await mosquittoErrors.messages).map(
      (line) => (JSON.parse(line) as { reason: string }).reason,
    );
    expect(viaMosquitto.sort()).toEqual(['forbidden-topic', 'malformed-json', 'out-of-range']);

    const rejectedBefore = (statsBefore['rejected'] ?? {}) as Record<string, number>;
    await eventually(
      async () => {
        const stats = (await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/ingest/stats`)).body;
        const rejected = stats['rejected'] as Record<string, number>;
        const grew = (reason: string): boolean => rejected[reason] === (rejectedBefore[reason] ?? 0) + 1;
        return grew('malformed-json') && grew('forbidden-topic') && grew('out-of-range') ? stats : undefined;
      },
      10_000,
      'rejection counters incremented by one each',
    );
    await stationClient.unsubscribeAsync(deviceTopic('env', station.id, 'error'));
    stationClient.removeAllListeners('message');
  });

  it('pushes a reading to subscribers of its district and domain, and not to other domains', async () => {
    const counter = firstDevice('traffic-counter');
    const district = registry.areaPath(counter.areaId)[1];
    if (!district) throw new Error('the counter sits directly under the root');
    const [byArea, byDomain, otherDomain] = [
      await liveClient(platform.httpUrl, await platform.admin()),
      await liveClient(platform.httpUrl, await platform.admin()),
      await liveClient(platform.httpUrl, await platform.admin()),
    ];
    try {
      expect((await byArea.subscribe({ area: district })).ok).toBe(true);
      expect((await byDomain.subscribe({ domain: 'traffic' })).ok).toBe(true);
      expect((await otherDomain.subscribe({ domain: 'lighting' })).ok).toBe(true);
      const ts = nextTs();
      await publisher.publishAsync(
        deviceTopic('traffic', counter.id, 'telemetry'),
        JSON.stringify({
          ts,
          metrics: { intensity: 120, intensityMotorcycle: 95, averageVehicleSpeed: 32.5, occupancy: 0.21 },
        }),
        { qos: 1 },
      );
      await eventually(
        async () => byArea.readings.find((r) => r.ts === ts && r.deviceId === counter.id),
        10_000,
        'area push',
      );
      await eventually(
        async () => byDomain.readings.find((r) => r.ts === ts && r.deviceId === counter.id),
        10_000,
        'domain push',
      );
      // The lighting subscriber shares the broker batch; give it the same time, then check it got nothing.
      await new Promise((r) => setTimeout(r, 300));
      expect(otherDomain.readings.filter((r) => r.deviceId === counter.id)).toEqual([]);
    } finally {
      for (const client of [byArea, byDomain, otherDomain]) client.close();
    }
  });

  it('combines the filters of one live subscription as an intersection, and sends a reading once per socket', async () => {
    const counter = firstDevice('traffic-counter');
    const district = registry.areaPath(counter.areaId)[1];
    if (!district) throw new Error('the counter sits directly under the root');
    const station = registry
      .listDevices({ domain: 'env' })
      // Not the first noise meter: another test reads that one's latest laeq.
      .find(
        (d) =>
          d.type === 'noise-meter' &&
          d.id !== firstDevice('noise-meter').id &&
          registry.areaPath(d.areaId).includes(district),
      );
    if (!station) throw new Error(`no noise meter in ${district} in the seeds`);
    const [trafficHere, envHere, both] = [
      await liveClient(platform.httpUrl, await platform.admin()),
      await liveClient(platform.httpUrl, await platform.admin()),
      await liveClient(platform.httpUrl, await platform.admin()),
    ];
    try {
      expect(await trafficHere.subscribe({ domain: 'traffic', area: district })).toEqual({
        ok: true,
        rooms: [`domain:traffic/area:${district}`],
      });
      expect((await envHere.subscribe({ domain: 'env', area: district })).ok).toBe(true);
      // Overlapping subscriptions on one socket: still one event per reading.
      expect((await both.subscribe({ domain: 'traffic' })).ok).toBe(true);
      expect((await both.subscribe({ area: district })).ok).toBe(true);
      // A device outside the domain it is combined with is refused, not silently empty.
      expect(await envHere.subscribe({ domain: 'env', device: counter.id })).toEqual({
        ok: false,
        error: `device: "${counter.id}" is in domain "traffic", not "env"`,
      });

      const trafficTs = nextTs();
      await publisher.publishAsync(
        deviceTopic('traffic', counter.id, 'telemetry'),
        JSON.stringify({ ts: trafficTs, metrics: { intensity: 7 } }),
        { qos: 1 },
      );
      // Published after the traffic reading was acknowledged, so relayed after it: once the env
      // reading reached the env subscriber, the traffic reading would have too.
      const envTs = nextTs();
      await publisher.publishAsync(
        deviceTopic('env', station.id, 'telemetry'),
        JSON.stringify({ ts: envTs, metrics: { laeq: 55 } }),
        { qos: 1 },
      );
      await eventually(
        async () => trafficHere.readings.find((r) => r.ts === trafficTs),
        10_000,
        'traffic here',
      );
      await eventually(async () => envHere.readings.find((r) => r.ts === envTs), 10_000, 'env here');
      await eventually(async () => both.readings.find((r) => r.ts === envTs), 10_000, 'env on both');
      expect(envHere.readings.filter((r) => r.deviceId === counter.id)).toEqual([]);
      expect(trafficHere.readings.filter((r) => r.deviceId === station.id)).toEqual([]);
      expect(both.readings.filter((r) => r.ts === trafficTs || r.ts === envTs)).toHaveLength(2);
    } finally {
      for (const client of [trafficHere, envHere, both]) client.close();
    }
  });

  it('refuses live subscriptions to unknown areas and malformed requests', async () => {
    const live = await liveClient(platform.httpUrl, await platform.admin());
    try {
      expect(await live.subscribe({ area: 'atlantis' })).toEqual({
        ok: false,
        error: 'area: unknown area "atlantis"',
      });
      expect((await live.subscribe({ domain: 'weather' })).ok).toBe(false);
      expect((await live.subscribe({})).ok).toBe(false);
    } finally {
      live.close();
    }
  });

  it('lists devices with filters that agree with the registry', async () => {
    const district = registry.areaPath(station.areaId)[1] as string;
    const cases: Array<[string, Device[]]> = [
      ['domain=env', registry.listDevices({ domain: 'env' })],
      ['type=camera', registry.listDevices({ type: 'camera' })],
      [`area=${district}`, registry.listDevices({ areaId: district })],
      [`area=${district}&domain=lighting`, registry.listDevices({ areaId: district, domain: 'lighting' })],
    ];
    for (const [query, expected] of cases) {
      const { status, body } = await getJson(
        await platform.admin(),
        `${platform.httpUrl}/api/v1/devices?${query}`,
      );
      expect(status).toBe(200);
      expect(body['total']).toBe(expected.length);
      expect((body['items'] as Device[]).map((d) => d.id).sort()).toEqual(expected.map((d) => d.id).sort());
    }
    const one = await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/devices/${station.id}`);
    expect(one.body).toMatchObject({
      id: station.id,
      type: station.type,
      areaPath: registry.areaPath(station.areaId),
    });
  });

  it('answers bad requests with 400 naming the parameter, and unknown devices with 404', async () => {
    const base = `${platform.httpUrl}/api/v1/devices`;
    const badCases: Array<[string, string]> = [
      [`${base}?domain=weather`, 'domain'],
      [`${base}?limit=0`, 'limit'],
      [`${base}?area=atlantis`, 'area'],
      [`${base}/${station.id}/history`, 'metric'],
      [`${base}/${station.id}/history?metric=intensity`, 'metric'],
      [`${base}/${station.id}/history?metric=pm25&from=yesterday`, 'from'],
      [`${base}/${station.id}/history?metric=pm25&fn=mean`, 'every'],
      [`${base}/${station.id}/history?metric=pm25&every=5parsecs`, 'every'],
      // The point limit counts windows that hold data, so a fine window over a long range is no
      // longer refused up front; a window too long to compute is.
      [`${base}/${station.id}/history?metric=pm25&every=104249992d`, 'every'],
      [`${base}/${station.id}/history?metric=pm25&foo=1`, 'foo'],
      [`${base}/${station.id}/history?metric=pm25&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`, 'from'],
    ];
    for (const [url, parameter] of badCases) {
      const { status, body } = await getJson(await platform.admin(), url);
      expect({ url, status, parameter: body['parameter'] }).toEqual({ url, status: 400, parameter });
      expect(String(body['message'])).toContain(`"${parameter}"`);
    }
    expect((await getJson(await platform.admin(), `${base}/no-such-device`)).status).toBe(404);
    expect((await getJson(await platform.admin(), `${base}/no-such-device/latest`)).status).toBe(404);
  });

  it('aggregates history per window', async () => {
    const noise = firstDevice('noise-meter');
    const windowStart = Math.floor(nextTs() / 600_000) * 600_000 - 3 * 600_000;
    const values = [55, 61, 58, 70];
    for (const [i, laeq] of values.entries()) {
      await publisher.publishAsync(
        deviceTopic('env', noise.id, 'telemetry'),
        JSON.stringify({ ts: windowStart + i * 150_000, metrics: { laeq } }),
        { qos: 1 },
      );
    }
    await latestTs(noise.id, 'laeq', windowStart + 3 * 150_000);
    const url = (fn: string) =>
      `${platform.httpUrl}/api/v1/devices/${noise.id}/history?metric=laeq&from=${windowStart}&to=${windowStart + 600_000}&every=5m&fn=${fn}`;
    const firstHalf = values.slice(0, 2);
    const secondHalf = values.slice(2);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect((await getJson(await platform.admin(), url('mean'))).body['points']).toEqual([
      { ts: windowStart, value: mean(firstHalf) },
      { ts: windowStart + 300_000, value: mean(secondHalf) },
    ]);
    expect((await getJson(await platform.admin(), url('max'))).body['points']).toEqual([
      { ts: windowStart, value: Math.max(...firstHalf) },
      { ts: windowStart + 300_000, value: Math.max(...secondHalf) },
    ]);
  });

  it('serves its OpenAPI document and health', async () => {
    const doc = await getJson(await platform.admin(), `${platform.httpUrl}/api/docs-json`);
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.body['paths'] as Record<string, unknown>);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/health',
        '/api/v1/devices',
        '/api/v1/devices/{id}/latest',
        '/api/v1/devices/{id}/history',
      ]),
    );
    const health = await getJson(await platform.admin(), `${platform.httpUrl}/health`);
    expect(health).toEqual({
      status: 200,
      body: {
        status: 'ok',
        storage: { kind: platformOptions().storage, up: true },
        broker: { connected: true },
        database: { kind: platformOptions().env?.['IOC_DATABASE_URL'] ? 'postgres' : 'sqlite', up: true },
      },
    });
  });

  it('knows every device type the contracts define', () => {
    const seeded = new Set(registry.listDevices({}).map((d) => d.type));
    expect([...seeded].sort()).toEqual(Object.keys(DEVICE_TYPE_CONTRACTS).sort());
  });
}
