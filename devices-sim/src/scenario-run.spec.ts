import { InternalBusClient, serviceClientId } from '@ioc/bus';
import { type Device, type DeviceStatus, derivedMetricsOf, type Reading } from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { BROKER_ENTRY, freePort, type ServiceProcess, startService, TempDirs } from '@ioc/testing';
import { selectDevices } from './device-selection';
import { buildMessage, createModelContext } from './models';
import {
  planScenario,
  type ScenarioPhaseEvent,
  ScenarioRunner,
  runScenario,
  scenarioContext,
  scenarioTimeline,
} from './scenarios';
import { Simulator } from './simulator';

const seeds = loadSeeds();

/** Polls `condition` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('scenarios against the platform broker', () => {
  jest.setTimeout(90_000);
  const dirs = new TempDirs('sim-scenarios-');
  const SECRET = 'sim-scenarios-internal-secret-0123';
  let broker: ServiceProcess;
  let url: string;
  let bus: InternalBusClient;
  /** Every reading the platform accepted, with the real time it was relayed. */
  const readings: { reading: Reading; receivedAt: number }[] = [];
  const statuses: DeviceStatus[] = [];

  beforeAll(async () => {
    const dataDir = await dirs.make();
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    broker = await startService(
      BROKER_ENTRY,
      {
        IOC_STORAGE: 'embedded',
        IOC_DATA_DIR: dataDir,
        IOC_MQTT_HOST: '127.0.0.1',
        IOC_MQTT_PORT: String(port),
        IOC_INTERNAL_SECRET: SECRET,
        IOC_MQTT_AUTH: 'off',
      },
      'broker ready',
    );
    bus = InternalBusClient.connect(
      {
        brokerUrl: url,
        clientId: serviceClientId('scenarios', 'sim-test'),
        secret: SECRET,
        logger: createLogger('test', { level: 'silent' }),
      },
      {
        readings: (batch) => {
          const receivedAt = Date.now();
          for (const reading of batch.readings) readings.push({ reading, receivedAt });
        },
        deviceStatus: (notice) => statuses.push(...notice),
      },
    );
    await waitFor(() => bus.connected, 'the bus');
  });
  afterAll(async () => {
    await bus?.close();
    await broker?.stop();
    await dirs.removeAll();
  });

  it('pollution-episode: the platform accepts exactly the planned readings, phase by phase, beside an unchanged feed', async () => {
    // ×7200: the 12 simulated hours in 6 s.
    const plan = planScenario('pollution-episode', seeds, { timeScale: 7200, seed: 3 });
    const affected = new Set(plan.target.devices.map((d) => d.id));
    const expected = scenarioTimeline(plan, scenarioContext(plan, seeds.devices));
    // The normal feed beside it: other devices, one of them an air-quality station of another district.
    const others = seeds.devices.filter((d) => !affected.has(d.id));
    const feedDevices: Device[] = [
      others.find((d) => d.type === 'air-quality-station') as Device,
      ...selectDevices(
        others.filter((d) => d.type !== 'air-quality-station'),
        3,
      ),
    ];
    const feedRate = 20;
    const feed = new Simulator({
      brokerUrl: url,
      devices: feedDevices,
      fleet: seeds.devices,
      ratePerSecond: feedRate,
      clientIdSuffix: '-feed',
    });
    const runner = new ScenarioRunner({ plan, brokerUrl: url, fleet: seeds.devices, clientIdSuffix: '-scn' });
    const phases: [string, ScenarioPhaseEvent][] = [];
    runner.on('phaseStart', (e) => phases.push(['start', e]));
    runner.on('phaseEnd', (e) => phases.push(['end', e]));
    let ended = 0;
    runner.on('ended', () => (ended += 1));
    await feed.start();
    await runner.start();
    const result = await runner.finished;
    const feedStats = await feed.stop();

    expect(result.completed).toBe(true);
    expect(ended).toBe(1);
    expect(result.stats).toMatchObject({ published: expected.length, errorsReceived: 0, skipped: 0 });
    expect(feedStats.errorsReceived).toBe(0);
    expect(phases.map(([kind, e]) => `${kind} ${e.phase} ${e.simulatedMs}`)).toEqual(
      plan.phases.flatMap((p) => [`start ${p.name} ${p.startMs}`, `end ${p.name} ${p.endMs}`]),
    );

    // What the stations published: not their statuses, nor the hourly VN_AQI the platform's alert
    // engine derives from them (readings holding only derived metrics: aqi, aqiDominant).
    const derived = new Set<string>(derivedMetricsOf('air-quality-station'));
    const ofScenario = () =>
      readings.filter(
        ({ reading }) =>
          affected.has(reading.deviceId) &&
          reading.kind !== 'status' &&
          !Object.keys(reading.metrics).every((metric) => derived.has(metric)),
      );
    await waitFor(() => ofScenario().length >= expected.length, 'every scenario reading');
    const got = ofScenario().sort(
      (a, b) => a.reading.ts - b.reading.ts || a.reading.deviceId.localeCompare(b.reading.deviceId),
    );
    expect(got.map(({ reading }) => [reading.deviceId, reading.ts, reading.metrics])).toEqual(
      expected.map((r) => [r.deviceId, r.tMs, r.output.metrics]),
    );
    for (const { reading, receivedAt } of got) expect(reading.ts).toBeLessThanOrEqual(receivedAt);
    // Per device, in the order sent (seq), the timestamps only grow.
    for (const id of affected) {
      const own = got.map(({ reading }) => reading).filter((r) => r.deviceId === id);
      own.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
      for (let i = 1; i < own.length; i += 1) expect(own[i]?.ts).toBeGreaterThan(own[i - 1]?.ts as number);
    }

    // The feed's devices report the model's values at their (real-time) ts: untouched.
    const ctx = createModelContext({
      seed: 1,
      periodSeconds: feedDevices.length / feedRate,
      fleet: seeds.devices,
    });
    const feedIds = new Set(feedDevices.map((d) => d.id));
    await waitFor(
      () =>
        readings.filter(({ reading }) => feedIds.has(reading.deviceId) && reading.kind !== 'status').length >=
        feedStats.published,
      'the feed readings',
    );
    const feedReadings = readings
      .filter(({ reading }) => feedIds.has(reading.deviceId) && reading.kind !== 'status')
      .map(({ reading }) => reading);
    expect(feedReadings.length).toBeGreaterThan(feedDevices.length);
    for (const reading of feedReadings) {
      const device = feedDevices.find((d) => d.id === reading.deviceId) as Device;
      expect(reading.metrics).toEqual(buildMessage(device, reading.ts, 0, ctx).body.metrics);
    }
  });

  it('camera-offline: the LWT marks the camera offline, it reconnects online, and nothing is sent in between', async () => {
    const from = statuses.length;
    const runner = await runScenario('camera-offline', {
      seeds,
      brokerUrl: url,
      timeScale: 60, // 8 simulated minutes in 8 s
      clientIdSuffix: '-offline',
    });
    const camera = runner.plan.target.devices[0] as Device;
    const offline = runner.plan.phases.find((p) => p.name === 'offline');
    const phaseStarts: string[] = [];
    runner.on('phaseStart', (e) => phaseStarts.push(e.phase));
    const result = await runner.finished;
    expect(result.completed).toBe(true);
    // 'online' may have started before runScenario resolved.
    expect(phaseStarts.filter((phase) => phase !== 'online')).toEqual(['offline', 'back-online']);
    const mine = () => statuses.slice(from).filter((s) => s.deviceId === camera.id);
    await waitFor(
      () =>
        mine().some(
          (s, i) =>
            s.status === 'online' &&
            mine()
              .slice(0, i)
              .some((p) => p.status === 'offline'),
        ),
      'offline, then online again',
    );
    const ts = readings
      .filter(({ reading }) => reading.deviceId === camera.id)
      .map(({ reading }) => reading.ts);
    expect(ts.length).toBeGreaterThan(0);
    expect(ts.filter((t) => t >= (offline?.startMs as number) && t < (offline?.endMs as number))).toEqual([]);
  });
});
