import type { Reading } from '@ioc/contracts';
import { roomsFor } from './live.gateway';

describe('roomsFor', () => {
  it('puts a reading in its domain, its device and every area on its path', () => {
    const reading = {
      deviceId: 'aq-001',
      domain: 'env',
      areaPath: ['tay-ninh', 'hoa-thanh', 'hoa-thanh-long-hoa'],
    } as Pick<Reading, 'deviceId' | 'domain' | 'areaPath'> as Reading;
    expect(roomsFor(reading)).toEqual([
      'domain:env',
      'device:aq-001',
      'area:tay-ninh',
      'area:hoa-thanh',
      'area:hoa-thanh-long-hoa',
    ]);
  });
});
