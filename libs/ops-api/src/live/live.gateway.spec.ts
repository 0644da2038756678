import { liveRoomOf, liveRoomsFor, type Reading } from '@ioc/contracts';

describe('live rooms', () => {
  const reading = {
    deviceId: 'aq-001',
    domain: 'env',
    areaPath: ['tay-ninh', 'hoa-thanh', 'hoa-thanh-long-hoa'],
  } as Pick<Reading, 'deviceId' | 'domain' | 'areaPath'>;

  it('puts a reading in its domain, its device, every area on its path and every domain × area', () => {
    expect(liveRoomsFor(reading)).toEqual([
      'domain:env',
      'device:aq-001',
      'area:tay-ninh',
      'domain:env/area:tay-ninh',
      'area:hoa-thanh',
      'domain:env/area:hoa-thanh',
      'area:hoa-thanh-long-hoa',
      'domain:env/area:hoa-thanh-long-hoa',
    ]);
  });

  it('gives a subscription of a domain and an area the room of their intersection only', () => {
    const rooms = liveRoomsFor(reading);
    expect(liveRoomOf({ domain: 'env', area: 'hoa-thanh' })).toBe('domain:env/area:hoa-thanh');
    expect(rooms).toContain(liveRoomOf({ domain: 'env', area: 'hoa-thanh' }));
    // Traffic in Hòa Thành does not receive an env reading of Hòa Thành, nor env elsewhere.
    expect(rooms).not.toContain(liveRoomOf({ domain: 'traffic', area: 'hoa-thanh' }));
    expect(rooms).not.toContain(liveRoomOf({ domain: 'env', area: 'go-dau' }));
    expect(liveRoomOf({ domain: 'env' })).toBe('domain:env');
    expect(liveRoomOf({ area: 'hoa-thanh' })).toBe('area:hoa-thanh');
    expect(liveRoomOf({ device: 'aq-001', domain: 'env' })).toBe('device:aq-001');
    expect(liveRoomOf({})).toBeUndefined();
  });
});
