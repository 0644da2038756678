import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEnv } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import { DEFAULT_FAILED_LOGIN_LIMITS } from './broker/failed-logins';
import {
  DEFAULT_MAX_PACKET_BYTES,
  brokerClusterFromEnv,
  brokerEnvSchema,
  brokerListenersFromEnv,
  failedLoginLimitsFromEnv,
} from './broker-config';

describe('broker configuration: IOC_MQTT_MAX_PACKET_BYTES', () => {
  it('defaults to 64 KiB, above the default payload limit', () => {
    const env = parseEnv(brokerEnvSchema, {});
    expect(env.IOC_MQTT_MAX_PACKET_BYTES).toBe(DEFAULT_MAX_PACKET_BYTES);
    expect(DEFAULT_MAX_PACKET_BYTES).toBe(65_536);
    expect(env.IOC_MQTT_MAX_PACKET_BYTES).toBeGreaterThan(env.IOC_MAX_PAYLOAD_BYTES);
  });

  it('takes a value between 1024 and the largest remaining length MQTT can announce', () => {
    expect(
      parseEnv(brokerEnvSchema, { IOC_MQTT_MAX_PACKET_BYTES: '1048576' }).IOC_MQTT_MAX_PACKET_BYTES,
    ).toBe(1_048_576);
    for (const bad of ['1023', '268435456', '64k', '-1', '1.5']) {
      expect(() => parseEnv(brokerEnvSchema, { IOC_MQTT_MAX_PACKET_BYTES: bad })).toThrow(
        new RegExp(`IOC_MQTT_MAX_PACKET_BYTES: .*\\(got "${bad.replace('.', '\\.')}"\\)`),
      );
    }
  });
});

describe('broker configuration: authentication and listeners', () => {
  const dirs = new TempDirs('broker-config-');
  afterAll(() => dirs.removeAll());

  it('authenticates devices by default, with the documented failed-login limits', () => {
    const env = parseEnv(brokerEnvSchema, {});
    expect(env.IOC_MQTT_AUTH).toBe('credentials');
    expect(failedLoginLimitsFromEnv(env)).toEqual(DEFAULT_FAILED_LOGIN_LIMITS);
    expect(parseEnv(brokerEnvSchema, { IOC_MQTT_AUTH: 'off' }).IOC_MQTT_AUTH).toBe('off');
    expect(() => parseEnv(brokerEnvSchema, { IOC_MQTT_AUTH: 'none' })).toThrow(/IOC_MQTT_AUTH/);
  });

  it('starts no extra listener unless asked, and reads the TLS files when one is', async () => {
    expect(brokerListenersFromEnv(parseEnv(brokerEnvSchema, {}))).toEqual({});
    const dir = await dirs.make();
    for (const name of ['cert.pem', 'key.pem', 'ca.pem'])
      await writeFile(join(dir, name), `${name} contents`);
    const listeners = brokerListenersFromEnv(
      parseEnv(brokerEnvSchema, {
        IOC_MQTT_HOST: '127.0.0.1',
        IOC_MQTT_TLS_PORT: '8883',
        IOC_MQTT_TLS_CERT_FILE: join(dir, 'cert.pem'),
        IOC_MQTT_TLS_KEY_FILE: join(dir, 'key.pem'),
        IOC_MQTT_TLS_CA_FILE: join(dir, 'ca.pem'),
        IOC_MQTT_WS_PORT: '8080',
        IOC_MQTT_WS_HOST: '0.0.0.0',
      }),
    );
    expect(listeners.tls).toMatchObject({ host: '127.0.0.1', port: 8883 });
    expect(listeners.tls?.ca?.toString()).toBe('ca.pem contents');
    expect(listeners.webSocket).toEqual({ host: '0.0.0.0', port: 8080 });
  });

  it('refuses a TLS port without certificate and key, TLS files without a port, and unreadable files', () => {
    expect(() => brokerListenersFromEnv(parseEnv(brokerEnvSchema, { IOC_MQTT_TLS_PORT: '8883' }))).toThrow(
      /IOC_MQTT_TLS_CERT_FILE: required[\s\S]*IOC_MQTT_TLS_KEY_FILE: required/,
    );
    expect(() =>
      brokerListenersFromEnv(parseEnv(brokerEnvSchema, { IOC_MQTT_TLS_CERT_FILE: '/x.pem' })),
    ).toThrow(/IOC_MQTT_TLS_PORT: required/);
    expect(() =>
      brokerListenersFromEnv(
        parseEnv(brokerEnvSchema, {
          IOC_MQTT_TLS_PORT: '8883',
          IOC_MQTT_TLS_CERT_FILE: '/nonexistent/cert.pem',
          IOC_MQTT_TLS_KEY_FILE: '/nonexistent/key.pem',
        }),
      ),
    ).toThrow(/IOC_MQTT_TLS_CERT_FILE: cannot read \/nonexistent\/cert.pem/);
  });
});

describe('broker configuration: scale-out (IOC_REDIS_URL, IOC_BROKER_ID)', () => {
  it('runs single-process without IOC_REDIS_URL, whatever IOC_BROKER_ID says', () => {
    expect(brokerClusterFromEnv(parseEnv(brokerEnvSchema, {}), {})).toBeUndefined();
    const raw = { IOC_BROKER_ID: 'b2' };
    expect(brokerClusterFromEnv(parseEnv(brokerEnvSchema, raw), raw)).toBeUndefined();
  });

  it('shares state through Redis with IOC_REDIS_URL and an explicit IOC_BROKER_ID', () => {
    const raw = { IOC_REDIS_URL: 'redis://10.0.0.5:6380/2', IOC_BROKER_ID: 'b2' };
    expect(brokerClusterFromEnv(parseEnv(brokerEnvSchema, raw), raw)).toEqual({
      redisUrl: 'redis://10.0.0.5:6380/2',
      brokerId: 'b2',
    });
    const tls = { IOC_REDIS_URL: 'rediss://:pw@redis.example:6379', IOC_BROKER_ID: '1' };
    expect(brokerClusterFromEnv(parseEnv(brokerEnvSchema, tls), tls)?.redisUrl).toBe(tls.IOC_REDIS_URL);
  });

  it('refuses IOC_REDIS_URL without an explicit IOC_BROKER_ID, naming the variable', () => {
    const raw = { IOC_REDIS_URL: 'redis://127.0.0.1:6379' };
    const env = parseEnv(brokerEnvSchema, raw);
    expect(env.IOC_BROKER_ID).toBe('1');
    expect(() => brokerClusterFromEnv(env, raw)).toThrow(/IOC_BROKER_ID: required when IOC_REDIS_URL is set/);
  });

  it('refuses a value that is not a redis:// or rediss:// URL, naming the variable', () => {
    for (const bad of ['127.0.0.1:6379', 'http://127.0.0.1:6379', 'redis://', 'redis']) {
      expect(() => parseEnv(brokerEnvSchema, { IOC_REDIS_URL: bad })).toThrow(
        /IOC_REDIS_URL: expected a redis:\/\//,
      );
    }
  });
});
