import { describeWithInfluxd, type InfluxdHandle, startInfluxd } from '@ioc/testing';
import { defineHistoryTests } from './support/history.suite';

jest.setTimeout(60_000);

describe('history at scale, embedded store', () => {
  defineHistoryTests(() => ({ storage: 'embedded' }));
});

describeWithInfluxd('history at scale, real InfluxDB', () => {
  let influxd: InfluxdHandle;
  beforeAll(async () => {
    influxd = await startInfluxd();
  }, 60_000);
  afterAll(async () => influxd?.stop());
  defineHistoryTests(() => ({ storage: 'influxdb', influxUrl: influxd.url, influxDatabase: 'history' }));
});
