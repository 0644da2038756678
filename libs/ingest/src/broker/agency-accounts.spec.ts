import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { InternalBusClient, serviceClientId } from '@ioc/bus';
import { type Device, deviceTopic, INTERNAL_USERNAME } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import {
  AgencyIndex,
  appendRegistryChange,
  DeviceRegistry,
  generateDeviceSecret,
  hashDeviceSecret,
  loadSeeds,
  RegistryRepository,
  RegistrySync,
} from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import {
  startTestBroker,
  TEST_CREDENTIAL_KEY,
  TEST_INTERNAL_SECRET,
  testDeviceCredentials,
  type TestBroker,
  testRegistry,
  waitFor,
} from '../test-support/test-broker';
import { MemoryFailedLoginLimiter } from './failed-logins';

jest.setTimeout(60_000);

const station = testRegistry.listDevices({ type: 'air-quality-station' })[0] as Device;
const ENV_AGENCY = 'so-nnmt';
const POLICE = 'cong-an';
const DISABLED = 'ubnd-hoa-thanh';
const NO_MQTT = 'dien-luc';
const alertTopic = (agencyId: string, rest = `critical/${station.id}`): string =>
  `ioc/v1/alerts/${agencyId}/${rest}`;

/** The CONNACK return code a refused connection got (0 when it connected). */
async function returnCode(connecting: Promise<MqttClient>): Promise<number | undefined> {
  try {
    const c = await connecting;
    await c.endAsync(true);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code;
  }
}

describe('broker: agency MQTT accounts', () => {
  const dirs = new TempDirs('agency-mqtt-');
  let database: IocDatabase;
  let sync: RegistrySync;
  let running: TestBroker;
  let url: string;
  const secrets: Record<string, string> = {};
  const clients: MqttClient[] = [];
  let deviceSecret: string;

  /** Writes an agency row and its change-log entry in one transaction, as the access library must. */
  const writeAgency = async (
    id: string,
    fields: { state?: string; secret?: string | null },
    action: string,
  ): Promise<void> => {
    const now = Date.now();
    const hash =
      fields.secret === undefined
        ? undefined
        : fields.secret === null
          ? null
          : hashDeviceSecret(TEST_CREDENTIAL_KEY, fields.secret).toString('hex');
    await database.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('agencies').select('id').where('id', '=', id).executeTakeFirst();
      if (existing) {
        await trx
          .updateTable('agencies')
          .set({
            updated_at: now,
            ...(fields.state === undefined ? {} : { state: fields.state }),
            ...(hash === undefined ? {} : { mqtt_secret_hash: hash }),
          })
          .where('id', '=', id)
          .execute();
      } else {
        await trx
          .insertInto('agencies')
          .values({
            id,
            name: id,
            scope: '{}',
            state: fields.state ?? 'active',
            mqtt_secret_hash: hash ?? null,
            mqtt_secret_hint: null,
            note: null,
            created_at: now,
            updated_at: now,
          })
          .execute();
      }
      await appendRegistryChange(trx, { entity: 'agency', entityId: id, action, at: now });
    });
  };

  const connect = async (options: IClientOptions): Promise<MqttClient> => {
    const c = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    clients.push(c);
    return c;
  };
  const agency = (id: string, options: IClientOptions = {}): Promise<MqttClient> =>
    connect({ username: `agency:${id}`, password: secrets[id], ...options });
  const internalClient = (): Promise<MqttClient> =>
    connect({ username: INTERNAL_USERNAME, password: TEST_INTERNAL_SECRET });
  const received = (c: MqttClient): string[] => {
    const seen: string[] = [];
    c.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    return seen;
  };
  const counters = () => running.broker.stats().broker;

  beforeEach(async () => {
    const dir = await dirs.make();
    database = openDatabase({ kind: 'sqlite', path: join(dir, 'registry.sqlite') });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(loadSeeds());
      },
    });
    for (const id of [ENV_AGENCY, POLICE, DISABLED]) secrets[id] = generateDeviceSecret();
    await writeAgency(ENV_AGENCY, { secret: secrets[ENV_AGENCY] }, 'created');
    await writeAgency(POLICE, { secret: secrets[POLICE] }, 'created');
    await writeAgency(DISABLED, { secret: secrets[DISABLED], state: 'disabled' }, 'created');
    await writeAgency(NO_MQTT, {}, 'created');
    // The broker learns agencies as the broker app does: RegistrySync into an AgencyIndex.
    const agencies = new AgencyIndex();
    const devices = testDeviceCredentials([station.id]);
    deviceSecret = devices.secrets[station.id] as string;
    const started: { broker?: TestBroker['broker'] } = {};
    sync = new RegistrySync(new RegistryRepository(database.db), new DeviceRegistry(), {
      logger: createLogger('test', { level: 'silent' }),
      agencies,
      pollMs: 0,
      onChanges: (changes) => {
        for (const change of changes) {
          if (change.entity === 'agency') started.broker?.revalidateAgency(change.entityId, change.action);
        }
      },
    });
    await sync.start();
    running = await startTestBroker(join(dir, 'broker'), {
      auth: { mode: 'credentials', credentials: devices.credentials, key: TEST_CREDENTIAL_KEY, agencies },
      failedLogins: new MemoryFailedLoginLimiter({
        perDevice: 3,
        perAddress: 1000,
        windowSeconds: 60,
        blockSeconds: 60,
      }),
    });
    started.broker = running.broker;
    url = running.url;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    sync.stop();
    await running?.close();
    await database?.close();
  });
  afterAll(() => dirs.removeAll());

  it('delivers what the platform publishes on the agency alert topic to that agency only', async () => {
    const env = await agency(ENV_AGENCY);
    const police = await agency(POLICE);
    const envSeen = received(env);
    const policeSeen = received(police);
    expect((await env.subscribeAsync(`ioc/v1/alerts/${ENV_AGENCY}/#`, { qos: 1 }))[0]?.qos).toBe(1);
    expect((await police.subscribeAsync(`ioc/v1/alerts/${POLICE}/#`, { qos: 1 }))[0]?.qos).toBe(1);
    const platform = await internalClient();
    await platform.publishAsync(alertTopic(ENV_AGENCY), '{"severity":"critical"}', { qos: 1 });
    await platform.publishAsync(alertTopic(POLICE, 'warning/x'), '{"severity":"warning"}', { qos: 1 });
    await waitFor(() => envSeen.length === 1 && policeSeen.length === 1, 'both alerts');
    expect(envSeen).toEqual([`${alertTopic(ENV_AGENCY)} {"severity":"critical"}`]);
    expect(policeSeen).toEqual([`${alertTopic(POLICE, 'warning/x')} {"severity":"warning"}`]);
  });

  it("the notifier's MQTT channel (InternalBusClient.publishAgencyAlert) reaches that agency only, acknowledged", async () => {
    const env = await agency(ENV_AGENCY);
    const police = await agency(POLICE);
    const envSeen = received(env);
    const policeSeen = received(police);
    await env.subscribeAsync(`ioc/v1/alerts/${ENV_AGENCY}/#`, { qos: 1 });
    await police.subscribeAsync(`ioc/v1/alerts/${POLICE}/#`, { qos: 1 });
    const bus = InternalBusClient.connect(
      {
        brokerUrl: url,
        clientId: serviceClientId('api', 'notify-test'),
        secret: TEST_INTERNAL_SECRET,
        logger: createLogger('test', { level: 'silent' }),
      },
      {},
    );
    try {
      await waitFor(() => bus.connected, 'the internal bus connection');
      const body = '{"type":"alert.firing","data":{"notificationId":"msg_abc"}}';
      // Resolves on the broker's PUBACK (QoS 1): the outbox marks the delivery delivered then.
      await bus.publishAgencyAlert(ENV_AGENCY, 'msg_abc', body);
      await waitFor(() => envSeen.length === 1, 'the alert');
      expect(envSeen).toEqual([`ioc/v1/alerts/${ENV_AGENCY}/msg_abc ${body}`]);
      expect(policeSeen).toEqual([]);
    } finally {
      await bus.close();
    }
  });

  it('refuses every subscription outside its own alert topics with SUBACK 0x80, counted', async () => {
    const env = await agency(ENV_AGENCY);
    const refused = [
      `ioc/v1/alerts/${POLICE}/#`,
      'ioc/v1/alerts/+/#',
      'ioc/v1/alerts/#',
      `ioc/v1/alerts/${ENV_AGENCY}`,
      `ioc/v1/alerts/${ENV_AGENCY}2/#`,
      'ioc/v1/#',
      '#',
      '+/+/+/+/+',
      deviceTopic(station.domain, station.id, 'telemetry'),
      deviceTopic(station.domain, station.id, 'command'),
      '$internal/#',
      `$share/g/ioc/v1/alerts/${ENV_AGENCY}/#`,
    ];
    // mqtt.js rejects a subscription the broker negated, with the SUBACK packet in the error.
    const grant = (filter: string): Promise<number | undefined> =>
      env.subscribeAsync(filter, { qos: 1 }).then(
        (granted) => granted[0]?.qos,
        (error: { packet?: { granted?: number[] } }) => error.packet?.granted?.[0],
      );
    for (const filter of refused) expect({ filter, qos: await grant(filter) }).toEqual({ filter, qos: 0x80 });
    expect(env.connected).toBe(true);
    expect(counters().forbiddenSubscriptions).toBe(refused.length);
    // Inside its own subtree, narrower filters (wildcards included) are fine.
    for (const filter of [
      `ioc/v1/alerts/${ENV_AGENCY}/critical/#`,
      `ioc/v1/alerts/${ENV_AGENCY}/+/${station.id}`,
    ]) {
      expect({ filter, qos: await grant(filter) }).toEqual({ filter, qos: 1 });
    }
  });

  it('never routes what an agency publishes, on its alert topic or a device topic, and counts it', async () => {
    const env = await agency(ENV_AGENCY);
    const envSeen = received(env);
    await env.subscribeAsync(`ioc/v1/alerts/${ENV_AGENCY}/#`, { qos: 1 });
    const platform = await internalClient();
    const platformSeen = received(platform);
    await platform.subscribeAsync('ioc/#', { qos: 1 });
    // Acknowledged (MQTT 3.1.1 has no refusal code for a PUBLISH), delivered nowhere.
    await env.publishAsync(alertTopic(ENV_AGENCY, 'forged'), '{"forged":true}', { qos: 1 });
    await env.publishAsync(
      deviceTopic(station.domain, station.id, 'telemetry'),
      JSON.stringify({ ts: Date.now(), metrics: { pm25: 999 } }),
      { qos: 1 },
    );
    // A marker from the platform, published after both were decided on, arrives; they did not.
    await platform.publishAsync(alertTopic(ENV_AGENCY, 'marker'), 'marker', { qos: 1 });
    await waitFor(() => envSeen.length >= 1 && platformSeen.length >= 1, 'the marker');
    expect(envSeen).toEqual([`${alertTopic(ENV_AGENCY, 'marker')} marker`]);
    expect(platformSeen).toEqual([`${alertTopic(ENV_AGENCY, 'marker')} marker`]);
    expect(counters().agencyPublishRefused).toBe(2);
    expect(running.broker.stats().acceptedTotal).toBe(0);
  });

  it('refuses a wrong secret, an unknown agency or one without an MQTT account with 4, a disabled agency with 5', async () => {
    const code = (username: string, password?: string): Promise<number | undefined> =>
      returnCode(
        connectAsync(url, {
          username,
          ...(password === undefined ? {} : { password }),
          reconnectPeriod: 0,
          clientId: `t-${Math.random().toString(36).slice(2)}`,
        }),
      );
    expect(await code(`agency:${ENV_AGENCY}`, secrets[POLICE])).toBe(4);
    expect(await code(`agency:${ENV_AGENCY}`)).toBe(4);
    expect(await code('agency:no-such-agency', secrets[ENV_AGENCY])).toBe(4);
    expect(await code(`agency:${NO_MQTT}`, 'iocds_anything')).toBe(4);
    expect(await code('agency:a/#', secrets[ENV_AGENCY])).toBe(4);
    expect(await code(`agency:${DISABLED}`, secrets[DISABLED])).toBe(5);
    expect(counters()).toMatchObject({ agencyAuthFailed: 5, authAgencyDisabled: 1 });
    // The failed-login throttle counts agency usernames like device ids: after 3 failures for
    // agency:so-nnmt (two above and one more), even the right secret is refused with 5.
    expect(await code(`agency:${ENV_AGENCY}`, 'iocds_wrong')).toBe(4);
    expect(await code(`agency:${ENV_AGENCY}`, secrets[ENV_AGENCY])).toBe(5);
    expect(counters().authThrottled).toBe(1);
    // A device is unaffected and still logs in.
    expect(await code(station.id, deviceSecret)).toBe(0);
  });

  it('ends sessions at the next registry refresh when the agency is disabled or its secret rotated', async () => {
    const env = await agency(ENV_AGENCY);
    const police = await agency(POLICE);
    const envClosed = new Promise<void>((resolve) => env.once('close', () => resolve()));
    await writeAgency(ENV_AGENCY, { state: 'disabled' }, 'disabled');
    await sync.refresh();
    await envClosed;
    expect(await returnCode(agency(ENV_AGENCY))).toBe(5);

    const oldSecret = secrets[POLICE] as string;
    const policeClosed = new Promise<void>((resolve) => police.once('close', () => resolve()));
    secrets[POLICE] = generateDeviceSecret();
    await writeAgency(POLICE, { secret: secrets[POLICE] }, 'mqtt-secret');
    await sync.refresh();
    await policeClosed;
    expect(counters().agencySessionsClosed).toBe(2);
    expect(await returnCode(agency(POLICE, { password: oldSecret }))).toBe(4);
    expect(await returnCode(agency(POLICE))).toBe(0);
  });

  it('keeps agency and device client ids apart', async () => {
    await agency(ENV_AGENCY, { clientId: 'shared-id', clean: false });
    expect(
      await returnCode(
        connectAsync(url, {
          username: station.id,
          password: deviceSecret,
          clientId: 'shared-id',
          reconnectPeriod: 0,
        }),
      ),
    ).toBe(2);
    await connect({ username: station.id, password: deviceSecret, clientId: 'device-id' });
    expect(await returnCode(agency(POLICE, { clientId: 'device-id' }))).toBe(2);
  });
});
