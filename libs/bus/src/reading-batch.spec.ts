import type { Reading } from '@ioc/contracts';
import { type InvalidBusMessage, ReadingBatch } from './reading-batch';

const reading: Reading = {
  deviceId: 'aqs-tn-001',
  deviceType: 'air-quality-station',
  domain: 'env',
  kind: 'telemetry',
  areaId: 'tn-p-tan-ninh',
  areaPath: ['tn', 'tn-tay-ninh', 'tn-p-tan-ninh'],
  location: { lat: 11.31, lon: 106.1 },
  ts: 1_795_741_200_000,
  metrics: { pm25: 31.2, online: true, aqiBand: 'moderate' },
};

function batchOf(body: string): { batch: ReadingBatch; problems: InvalidBusMessage[] } {
  const problems: InvalidBusMessage[] = [];
  return { batch: new ReadingBatch(Buffer.from(body), (p) => problems.push(p)), problems };
}

describe('ReadingBatch', () => {
  it('decodes the batch on first use, once', () => {
    const json = Buffer.from(JSON.stringify([reading]));
    const batch = new ReadingBatch(json, () => undefined);
    json.fill(0x20); // a batch decoded at construction would not notice
    expect(batch.readings).toEqual([]);

    const fresh = batchOf(JSON.stringify([reading]));
    expect(fresh.batch.readings).toEqual([reading]);
    expect(fresh.batch.readings).toBe(fresh.batch.readings);
    expect(fresh.problems).toEqual([]);
  });

  it('reports an unreadable batch and yields no readings instead of throwing', () => {
    for (const body of ['{"not":"an array"}', '[{"deviceId":', '']) {
      const { batch, problems } = batchOf(body);
      expect(batch.readings).toEqual([]);
      expect(problems).toHaveLength(1);
    }
  });

  it('drops each reading that does not match the contract, names it, and keeps the rest', () => {
    const bad = [
      { ...reading, domain: 'weather' },
      { ...reading, ts: 'yesterday' },
      { ...reading, metrics: { pm25: { $gt: 0 } } },
      { ...reading, deviceId: undefined },
      null,
    ];
    const { batch, problems } = batchOf(JSON.stringify([reading, ...bad, reading]));
    expect(batch.readings).toEqual([reading, reading]);
    expect(problems.map((p) => p.detail.split(':')[0])).toEqual([
      '1.domain',
      '2.ts',
      '3.metrics.pm25',
      '4.deviceId',
      '5.payload',
    ]);
  });

  it('ignores fields a newer broker added (tolerant reader)', () => {
    const { batch, problems } = batchOf(JSON.stringify([{ ...reading, quality: 'good' }]));
    expect(batch.readings).toEqual([reading]);
    expect(problems).toEqual([]);
  });
});
