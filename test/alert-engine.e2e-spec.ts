import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import { type Device, deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { eventually, type RunningPlatform, startPlatform } from '@ioc/testing';
import { getJson } from './support/clients';

/*
 * The alert engine in the real broker process (the spool's second consumer), with the API beside
 * it: rules written through REST reach the engine through the registry change log; readings are
 * published over MQTT at QoS 1; alerts are read back through REST and from the registry database.
 */

jest.setTimeout(180_000);

const registry = new DeviceRegistry(loadSeeds());
const stations = registry.listDevices({ type: 'air-quality-station' });
const station = (i: number): Device => stations[i] as Device;
const RULE_ID = 'e2e-pm25-spike';

/** A connection logged in as `device`. */
const connect = (platform: RunningPlatform, clientId: string, device: Device): Promise<MqttClient> =>
  connectAsync(platform.mqttUrl, {
    clientId,
    reconnectPeriod: 0,
    clean: true,
    username: device.id,
    password: platform.deviceSecret(device.id),
  });

const publishPm25 = (client: MqttClient, device: Device, ts: number, pm25: number) =>
  client.publishAsync(deviceTopic('env', device.id, 'telemetry'), JSON.stringify({ ts, metrics: { pm25 } }), {
    qos: 1,
  });

interface TransitionRow {
  alert_id: string;
  seq: number;
  kind: string;
  at: number;
  subject_id: string;
}

/** The rule's transitions, read from the registry database (SQLite, WAL: readable beside the broker). */
function transitions(platform: RunningPlatform): TransitionRow[] {
  const db = new Database(join(platform.dataDir, 'registry.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `select t.alert_id, t.seq, t.kind, t.at, a.subject_id from alert_transitions t
         join alerts a on a.id = t.alert_id where a.rule_id = ? order by t.id`,
      )
      .all(RULE_ID) as TransitionRow[];
  } finally {
    db.close();
  }
}

describe('alert engine in the broker (embedded store, SQLite registry)', () => {
  let platform: RunningPlatform;
  beforeAll(async () => {
    platform = await startPlatform({
      storage: 'embedded',
      env: { IOC_ALERT_SNAPSHOT_MS: '300', IOC_WRITE_BATCH_DELAY_MS: '50' },
    });
    const admin = await platform.admin();
    const logStart = platform.broker.output().length;
    const created = await admin.fetch('/api/v1/rules', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: RULE_ID,
        kind: 'threshold',
        name: { vi: 'PM2.5 vượt ngưỡng (e2e)', en: 'PM2.5 spike (e2e)' },
        severity: 'warning',
        scope: { deviceIds: stations.slice(0, 4).map((d) => d.id) },
        metric: 'pm25',
        condition: { op: 'above', value: 100 },
        clear: { op: 'below', value: 80 },
        message: { vi: '{device}: {metric} {value} {unit}', en: '{device}: {metric} {value} {unit}' },
      }),
    });
    expect(created.status).toBe(201);
    // The broker's engine has it once its registry sync applied the change.
    await eventually(
      async () => (platform.broker.output().indexOf(RULE_ID, logStart) >= 0 ? true : undefined),
      30_000,
      'the broker reloading the rule',
    );
  }, 90_000);
  afterAll(async () => platform?.stop());

  it('a value oscillating inside the hysteresis band opens one alert, not many', async () => {
    const device = station(0);
    const client = await connect(platform, 'e2e-alert-oscillation', device);
    const base = Date.now() - 3_600_000;
    // above 100 fires; 80 ≤ value ≤ 100 is inside the band; below 80 resolves
    const values = [50, 120, 90, 110, 85, 105, 95, 101, 81, 99, 70];
    for (let k = 0; k < values.length; k++)
      await publishPm25(client, device, base + k * 1000, values[k] as number);
    await client.endAsync();
    const admin = await platform.admin();
    const alerts = await eventually(
      async () => {
        const { body } = await getJson(
          admin,
          `${platform.httpUrl}/api/v1/alerts?ruleId=${RULE_ID}&deviceId=${device.id}`,
        );
        const list = body['alerts'] as Array<Record<string, unknown>>;
        return list.length > 0 && list.every((a) => a['state'] === 'resolved') ? list : undefined;
      },
      20_000,
      'the alert resolved',
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      firingAt: new Date(base + 1000).toISOString(),
      resolvedAt: new Date(base + 10_000).toISOString(),
      resolution: 'cleared',
    });
    const steps = transitions(platform).filter((t) => t.subject_id === device.id);
    expect(steps.map((t) => `${t.seq}:${t.kind}`)).toEqual(['1:fired', '2:resolved']);
  });

  it('a scenario stamped in the past beside a live feed of the same device: ignored, counted as outOfOrder, the device named in a warning', async () => {
    const device = station(0);
    const admin = await platform.admin();
    const outOfOrder = async (): Promise<number> => {
      const { body } = await getJson(admin, `${platform.httpUrl}/api/v1/ingest/stats`);
      return Number((body['alertEngine'] as Record<string, unknown> | undefined)?.['outOfOrder']);
    };
    const before = await eventually(
      async () => {
        const n = await outOfOrder();
        return Number.isFinite(n) ? n : undefined;
      },
      20_000,
      'alertEngine.outOfOrder in the ingest stats',
    );
    const logFrom = platform.broker.output().length;
    // The feed (npm start's simulator): the device reports now, a clean value.
    const feed = await connect(platform, 'e2e-feed', device);
    await publishPm25(feed, device, Date.now(), 40);
    // The scenario, another session of the same device, replays the half hour before: far above
    // the limit, but older than what the engine has evaluated for the device.
    const scenario = await connect(platform, 'e2e-scenario', device);
    const base = Date.now() - 30 * 60_000;
    for (let k = 0; k < 5; k++) await publishPm25(scenario, device, base + k * 60_000, 300);
    await Promise.all([feed.endAsync(), scenario.endAsync()]);
    await eventually(
      async () => ((await outOfOrder()) >= before + 5 ? true : undefined),
      20_000,
      'the scenario readings counted as outOfOrder',
    );
    const log = platform.broker.output().slice(logFrom);
    expect(log).toContain('older than the newest one evaluated for this device is ignored');
    expect(log).toContain(device.id);
    // Nothing fired from them: the device's only alert is the one of the test before.
    const { body } = await getJson(
      admin,
      `${platform.httpUrl}/api/v1/alerts?ruleId=${RULE_ID}&deviceId=${device.id}`,
    );
    expect((body['alerts'] as unknown[]).length).toBe(1);
  });

  it('SIGKILL mid-episode and a restart: every alert exactly once, no transition twice, every acknowledged reading evaluated', async () => {
    // Three stations, 300 readings each, alternating 120 / 60: every reading is one transition
    // (even: an alert fires; odd: it resolves), so a reading skipped or evaluated twice shows.
    const devices = [station(1), station(2), station(3)];
    const perStation = 300;
    const base = Date.now() - 2 * 3_600_000;
    const value = (k: number) => (k % 2 === 0 ? 120 : 60);
    const tsOf = (k: number) => base + k * 1000;
    const acked = devices.map(() => new Set<number>());
    let killing: Promise<void> | undefined;
    const ackedTotal = () => acked.reduce((n, s) => n + s.size, 0);

    const publishRun = async (i: number, from: number, clientId: string, mayKill: boolean): Promise<void> => {
      const device = devices[i] as Device;
      const client = await connect(platform, clientId, device);
      let closed = false;
      // Publishes in flight when the broker dies may never settle: stop waiting at the close.
      const whenClosed = new Promise<void>((resolve) =>
        client.once('close', () => {
          closed = true;
          resolve();
        }),
      );
      const inFlight = new Set<Promise<void>>();
      for (let k = from; k < perStation && !closed && !killing; k++) {
        const sent = publishPm25(client, device, tsOf(k), value(k)).then(
          () => void acked[i]?.add(k),
          () => undefined,
        );
        const tracked = sent.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
        if (inFlight.size >= 8) await Promise.race([...inFlight, whenClosed]);
        if (mayKill && !killing && ackedTotal() >= (devices.length * perStation) / 2) {
          killing = platform.killBroker('SIGKILL');
        }
      }
      await Promise.race([Promise.all(inFlight), whenClosed, killing ?? new Promise(() => undefined)]);
      client.end(true);
    };

    await Promise.all(devices.map((_, i) => publishRun(i, 0, `e2e-alert-kill-${i}`, true)));
    await killing;
    expect(ackedTotal()).toBeGreaterThanOrEqual((devices.length * perStation) / 2);
    expect(ackedTotal()).toBeLessThan(devices.length * perStation);
    const before = transitions(platform);

    await platform.restartBroker();
    // Each station again from its first unacknowledged reading (a reading that was durable but
    // not acknowledged comes twice: same ts, same value, which changes nothing the second time).
    killing = undefined;
    const resumeFrom = acked.map((set) => {
      let k = 0;
      while (set.has(k)) k++;
      return k;
    });
    await Promise.all(
      devices.map((_, i) => publishRun(i, resumeFrom[i] as number, `e2e-alert-resume-${i}`, false)),
    );

    const expectedPerStation = perStation;
    const rows = await eventually(
      async () => {
        const all = transitions(platform);
        return devices.every((d) => all.filter((t) => t.subject_id === d.id).length >= expectedPerStation)
          ? all
          : undefined;
      },
      60_000,
      'one transition per reading of every station',
    );
    // The engine is caught up: nothing more comes (its lag 0, the transition count unchanged).
    const admin = await platform.admin();
    await eventually(
      async () => {
        const { body } = await getJson(admin, `${platform.httpUrl}/api/v1/ingest/stats`);
        const engine = body['alertEngine'] as { lag: number } | undefined;
        return engine && engine.lag === 0 ? true : undefined;
      },
      20_000,
      'the alert engine caught up',
    );
    const final = transitions(platform);
    expect(final.length).toBe(rows.length);
    // What was committed before the kill is all still there, unchanged.
    expect(final.slice(0, before.length)).toEqual(before);

    for (const device of devices) {
      const mine = final.filter((t) => t.subject_id === device.id);
      // One transition per reading, at that reading's time: none skipped, none twice.
      expect(mine.map((t) => t.at).sort((a, b) => a - b)).toEqual(
        Array.from({ length: perStation }, (_, k) => tsOf(k)),
      );
      // Every alert: fired once (seq 1) at an even reading, resolved once (seq 2) at the next.
      const byAlert = new Map<string, TransitionRow[]>();
      for (const t of mine) byAlert.set(t.alert_id, [...(byAlert.get(t.alert_id) ?? []), t]);
      expect(byAlert.size).toBe(perStation / 2);
      for (const steps of byAlert.values()) {
        expect(steps.map((t) => `${t.seq}:${t.kind}`)).toEqual(['1:fired', '2:resolved']);
        expect((steps[1] as TransitionRow).at - (steps[0] as TransitionRow).at).toBe(1000);
      }
    }
    // Every acknowledged reading is among them (the check above covers all readings; this one
    // states it for the acknowledged ones before the kill).
    for (const [i, device] of devices.entries()) {
      const times = new Set(final.filter((t) => t.subject_id === device.id).map((t) => t.at));
      for (const k of acked[i] as Set<number>) expect(times.has(tsOf(k))).toBe(true);
    }
  });
});
