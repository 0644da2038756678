import { connectAsync, type MqttClient } from 'mqtt';
import { type Device, deviceTopic } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { ALERT_ENGINE_LEASE, LeaseRepository, RuleRepository } from '@ioc/alerting';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import {
  BROKER_ENTRY,
  describeWithPostgres,
  describeWithRedis,
  eventually,
  freePort,
  type PostgresHandle,
  type RedisHandle,
  type ServiceProcess,
  startPostgres,
  startRedis,
  startService,
  TempDirs,
} from '@ioc/testing';

/*
 * Two REAL broker processes on one Redis and one PostgreSQL (issue 12): the alert engine runs on
 * the node holding the lease, fed by the Redis stream every node forwards its spool to. A device
 * publishes to the OTHER node; the alert fires once. The holder is SIGKILLed mid-stream; the other
 * node takes the lease after its TTL, restores the last snapshot, re-reads the stream from it, and
 * an alert condition that starts after the kill fires once. No (rule, subject) fires twice.
 */

jest.setTimeout(240_000);

const registry = new DeviceRegistry(loadSeeds());
const station = registry.listDevices({ type: 'air-quality-station' })[0] as Device;
const RULE_ID = 'e2e-nodes-pm25';
const tempDirs = new TempDirs('ioc-engine-nodes-');

interface BrokerNode {
  id: string;
  process: ServiceProcess;
  mqttUrl: string;
}

async function startBrokerNode(id: string, env: Record<string, string>): Promise<BrokerNode> {
  const port = await freePort();
  const dataDir = await tempDirs.make();
  const process = await startService(
    BROKER_ENTRY,
    {
      IOC_STORAGE: 'embedded',
      IOC_DATA_DIR: dataDir,
      IOC_MQTT_HOST: '127.0.0.1',
      IOC_MQTT_PORT: String(port),
      IOC_MQTT_AUTH: 'off',
      IOC_INTERNAL_SECRET: 'test-internal-secret-0123456789',
      IOC_BROKER_ID: id,
      IOC_ALERT_LEASE_MS: '3000',
      IOC_ALERT_LEASE_RENEW_MS: '500',
      IOC_ALERT_SNAPSHOT_MS: '300',
      IOC_WRITE_BATCH_DELAY_MS: '50',
      ...env,
    },
    'broker ready',
    60_000,
  );
  return { id, process, mqttUrl: `mqtt://127.0.0.1:${port}` };
}

const publishPm25 = (client: MqttClient, ts: number, pm25: number) =>
  client.publishAsync(
    deviceTopic('env', station.id, 'telemetry'),
    JSON.stringify({ ts, metrics: { pm25 } }),
    {
      qos: 1,
    },
  );

describeWithRedis('alert engine on two broker nodes', () => {
  describeWithPostgres('(Redis + PostgreSQL)', () => {
    let redis: RedisHandle;
    let postgres: PostgresHandle;
    let database: IocDatabase;
    let env: Record<string, string>;
    const nodes: BrokerNode[] = [];

    beforeAll(async () => {
      redis = await startRedis();
      postgres = await startPostgres();
      const url = await postgres.createDatabase();
      database = openDatabase({ kind: 'postgres', url });
      await prepareDatabase(database);
      await new RuleRepository(database.db).create(
        {
          id: RULE_ID,
          kind: 'threshold',
          name: { vi: 'PM2.5 vượt ngưỡng (2 nút)', en: 'PM2.5 spike (2 nodes)' },
          severity: 'warning',
          scope: { deviceIds: [station.id] },
          metric: 'pm25',
          condition: { op: 'above', value: 100 },
          clear: { op: 'below', value: 80 },
          message: { vi: '{device}: {metric} {value}', en: '{device}: {metric} {value}' },
        },
        'e2e',
      );
      env = { IOC_DATABASE_URL: url, IOC_REDIS_URL: redis.url };
    }, 120_000);

    afterAll(async () => {
      for (const node of nodes) await node.process.stop();
      await database?.close();
      await redis?.close();
      await postgres?.stop();
      await tempDirs.removeAll();
    }, 60_000);

    /** The rule's alerts with their `fired` transitions, oldest first. */
    const firings = async () => {
      const rows = await database.db
        .selectFrom('alerts as a')
        .innerJoin('alert_transitions as t', 't.alert_id', 'a.id')
        .select(['a.id', 'a.state', 'a.subject_id', 'a.pending_at', 't.kind'])
        .where('a.rule_id', '=', RULE_ID)
        .orderBy('a.pending_at')
        .orderBy('t.seq')
        .execute();
      const byAlert = new Map<string, { state: string; subject: string; fired: number }>();
      for (const row of rows) {
        const entry = byAlert.get(row.id) ?? { state: row.state, subject: row.subject_id, fired: 0 };
        if (row.kind === 'fired') entry.fired++;
        byAlert.set(row.id, entry);
      }
      return [...byAlert.values()];
    };

    it('fires once from a device on the standby node, and once more after the holder is SIGKILLed', async () => {
      const leases = new LeaseRepository(database.db, database.kind);
      const first = await startBrokerNode('1', env);
      nodes.push(first);
      await eventually(
        async () =>
          (await leases.get(ALERT_ENGINE_LEASE))?.holder.startsWith('broker-1:') ? true : undefined,
        20_000,
        'broker 1 holding the lease',
      );
      const second = await startBrokerNode('2', env);
      nodes.push(second);
      const termOfFirst = (await leases.get(ALERT_ENGINE_LEASE))?.token ?? 0;

      // The device is on node 2, which does not evaluate.
      const client = await connectAsync(second.mqttUrl, {
        clientId: station.id,
        clean: true,
        reconnectPeriod: 0,
      });
      const base = Date.now() - 3_600_000;
      let k = 0;
      for (const v of [50, 120, 110]) await publishPm25(client, base + k++ * 1000, v);
      const fired = await eventually(
        async () => {
          const f = await firings();
          return f.length === 1 && f[0]?.state === 'firing' ? f : undefined;
        },
        30_000,
        'the alert firing',
      );
      expect(fired).toEqual([{ state: 'firing', subject: station.id, fired: 1 }]);

      // Mid-stream: readings inside the hysteresis band keep coming while node 1 is killed.
      for (let i = 0; i < 20; i++) {
        await publishPm25(client, base + k++ * 1000, 90 + (i % 10));
        if (i === 10) await first.process.stop('SIGKILL');
      }
      // After the kill: the condition clears, then starts again.
      await publishPm25(client, base + k++ * 1000, 70);
      await publishPm25(client, base + k++ * 1000, 130);
      await client.endAsync();

      await eventually(
        async () => {
          const lease = await leases.get(ALERT_ENGINE_LEASE);
          return lease?.holder.startsWith('broker-2:') ? lease : undefined;
        },
        30_000,
        'broker 2 taking the lease over',
      );
      const after = await eventually(
        async () => {
          const f = await firings();
          return f.length === 2 && f[1]?.state === 'firing' ? f : undefined;
        },
        30_000,
        'the new condition firing on node 2',
      );
      expect(after).toEqual([
        { state: 'resolved', subject: station.id, fired: 1 },
        { state: 'firing', subject: station.id, fired: 1 },
      ]);
      const lease = await leases.get(ALERT_ENGINE_LEASE);
      expect(lease?.token).toBe(termOfFirst + 1);
      expect(second.process.output()).toContain('alert engine lease acquired');
      const open = await database.db
        .selectFrom('alerts')
        .select(['subject_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where('rule_id', '=', RULE_ID)
        .where('state', '<>', 'resolved')
        .groupBy('subject_id')
        .execute();
      expect(open.map((r) => [r.subject_id, Number(r.n)])).toEqual([[station.id, 1]]);
    });
  });
});
