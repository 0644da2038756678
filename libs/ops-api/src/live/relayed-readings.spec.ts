import type { Reading } from '@ioc/contracts';
import { createLogger } from '@ioc/runtime';
import { RelayedReadings } from './relayed-readings';

const logger = createLogger('relayed-readings-spec', { level: 'silent' });

describe('RelayedReadings', () => {
  it('decodes the batch on first use, once', () => {
    const readings = [{ deviceId: 'aq-1', ts: 1, metrics: { pm25: 3 } }] as unknown as Reading[];
    const json = Buffer.from(JSON.stringify(readings));
    const batch = new RelayedReadings(json, logger);
    json.fill(0x20); // a batch decoded at construction would not notice
    expect(() => batch.readings).not.toThrow();
    expect(batch.readings).toEqual([]);

    const fresh = new RelayedReadings(Buffer.from(JSON.stringify(readings)), logger);
    expect(fresh.readings).toEqual(readings);
    expect(fresh.readings).toBe(fresh.readings);
  });

  it('logs an unreadable batch and yields no readings instead of throwing', () => {
    const errors: unknown[] = [];
    const spyLogger = { ...logger, error: (obj: unknown) => errors.push(obj) } as unknown as typeof logger;
    for (const body of ['{"not":"an array"}', '[{"deviceId":', '']) {
      expect(new RelayedReadings(Buffer.from(body), spyLogger).readings).toEqual([]);
    }
    expect(errors).toHaveLength(3);
  });
});
