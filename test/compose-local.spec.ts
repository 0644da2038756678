import {
  type ComposeLocalPlan,
  differencesFromCompose,
  localEnvironment,
  onLoopback,
} from './support/compose-local';

/* The mapping of deploy/docker-compose.yml's settings onto a test's loopback servers (scale-out e2e). */

const compose = {
  IOC_REDIS_URL: 'redis://:secret@redis:6379',
  IOC_DATA_DIR: '/data',
  IOC_MQTT_PORT: '1883',
  IOC_LOG_LEVEL: 'info',
};
const plan: ComposeLocalPlan = {
  replace: {
    IOC_REDIS_URL: { value: 'redis://:secret@127.0.0.1:41000', reason: 'loopback' },
    IOC_DATA_DIR: { value: '/tmp/node-1', reason: 'a temporary directory' },
    IOC_MQTT_PORT: { reason: 'set by the harness' },
  },
  add: {
    IOC_MQTT_HOST: { value: '127.0.0.1', reason: 'loopback only' },
    IOC_DEMO_CREDENTIALS_FILE: { reason: 'set by the harness' },
  },
};

describe('compose settings on loopback', () => {
  it('moves a URL to a loopback port, keeping its user, password and path', () => {
    expect(onLoopback('redis://:secret@redis:6379', 41000)).toBe('redis://:secret@127.0.0.1:41000');
    expect(onLoopback('postgres://ioc:pw@postgres:5432/ioc', 41001)).toBe(
      'postgres://ioc:pw@127.0.0.1:41001/ioc',
    );
    expect(onLoopback('http://influxdb:8086', 41002)).toBe('http://127.0.0.1:41002');
  });

  it('passes every other variable through, replaces and adds what the plan says, leaves harness values out', () => {
    expect(localEnvironment('broker-1', compose, plan)).toEqual({
      IOC_REDIS_URL: 'redis://:secret@127.0.0.1:41000',
      IOC_DATA_DIR: '/tmp/node-1',
      IOC_LOG_LEVEL: 'info',
      IOC_MQTT_HOST: '127.0.0.1',
    });
  });

  it('refuses a replacement of a variable the service does not set, and an addition of one it does', () => {
    expect(() =>
      localEnvironment('broker-1', compose, { replace: { IOC_GONE: { value: 'x', reason: 'r' } } }),
    ).toThrow('broker-1: replaces IOC_GONE, which the compose service does not set');
    expect(() =>
      localEnvironment('broker-1', compose, {
        replace: {},
        add: { IOC_LOG_LEVEL: { value: 'debug', reason: 'r' } },
      }),
    ).toThrow('broker-1: adds IOC_LOG_LEVEL, which the compose service sets: replace it instead');
  });

  it('finds a dropped, a changed and an unplanned variable in a started process', () => {
    const started = {
      ...localEnvironment('broker-1', compose, plan),
      IOC_MQTT_PORT: '41003',
      IOC_DEMO_CREDENTIALS_FILE: '/tmp/node-1/credentials.json',
    };
    expect(differencesFromCompose('broker-1', compose, plan, started)).toEqual([]);
    const { IOC_MQTT_PORT: _port, ...dropped } = started;
    expect(differencesFromCompose('broker-1', compose, plan, dropped)).toEqual([
      'broker-1: IOC_MQTT_PORT dropped (compose: 1883)',
    ]);
    expect(
      differencesFromCompose('broker-1', compose, plan, {
        ...started,
        IOC_LOG_LEVEL: 'debug',
        IOC_DATA_DIR: '/elsewhere',
        IOC_STORAGE: 'embedded',
      }),
    ).toEqual([
      'broker-1: IOC_DATA_DIR is /elsewhere, not the planned /tmp/node-1',
      'broker-1: IOC_LOG_LEVEL is debug, compose sets info, and no replacement says why',
      'broker-1: IOC_STORAGE=embedded is not in the compose file nor planned',
    ]);
  });
});
