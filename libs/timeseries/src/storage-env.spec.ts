import { parseEnv } from '@ioc/runtime';
import { storageConfigFromEnv, storageEnvSchema } from './storage-env';

const config = (env: Record<string, string>) =>
  storageConfigFromEnv(parseEnv(storageEnvSchema, { IOC_STORAGE: 'influxdb', ...env }));

describe('storage settings from the environment', () => {
  it('manages the database and rollups on InfluxDB 1.x by default', () => {
    expect(config({})).toMatchObject({ storage: 'influxdb', createDatabase: true, rollups: 'managed' });
    expect(config({})).not.toHaveProperty('retentionPolicy');
  });

  it('creates nothing on InfluxDB 2.x and 3.x and reads rollups only where something else keeps them', () => {
    expect(config({ IOC_INFLUX_VERSION: '2', IOC_INFLUX_TOKEN: 't0k3n' })).toMatchObject({
      createDatabase: false,
      rollups: 'none',
      token: 't0k3n',
    });
    expect(
      config({
        IOC_INFLUX_VERSION: '3',
        IOC_INFLUX_ROLLUPS: 'external',
        IOC_INFLUX_RETENTION_POLICY: 'raw_90d',
      }),
    ).toMatchObject({ createDatabase: false, rollups: 'external', retentionPolicy: 'raw_90d' });
  });

  it('refuses an unknown generation or rollup keeper, naming the variable', () => {
    expect(() => config({ IOC_INFLUX_VERSION: '4' })).toThrow(/IOC_INFLUX_VERSION/);
    expect(() => config({ IOC_INFLUX_ROLLUPS: 'cron' })).toThrow(/IOC_INFLUX_ROLLUPS/);
    expect(() => config({ IOC_INFLUX_RETENTION_POLICY: 'a"; DROP' })).toThrow(/IOC_INFLUX_RETENTION_POLICY/);
  });
});
