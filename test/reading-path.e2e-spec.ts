import { describeWithInfluxd, type InfluxdHandle, startInfluxd } from '@ioc/testing';
import { defineReadingPathTests } from './support/reading-path.suite';

jest.setTimeout(60_000);

describe('reading path, embedded store', () => {
  defineReadingPathTests(() => ({ storage: 'embedded' }));
});

describeWithInfluxd('reading path, real InfluxDB', () => {
  let influxd: InfluxdHandle;
  beforeAll(async () => {
    influxd = await startInfluxd();
  }, 60_000);
  afterAll(async () => {
    await influxd?.stop();
  });
  defineReadingPathTests(() => ({ storage: 'influxdb', influxUrl: influxd.url }));
});
