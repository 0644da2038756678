import type { AccessScope } from './access';
import { scopeHoldsDevice } from './access';
import { DOMAINS } from './domains';
import {
  LIVE_REJECTIONS_ROOM,
  liveRoomFilters,
  liveRoomOf,
  liveRoomsFor,
  liveRoomsOfScope,
  liveSubscriptionSchema,
} from './live-events';

/** Area paths of a small tree: a province, two districts, a ward in each. */
const PATHS = [['p'], ['p', 'd1'], ['p', 'd1', 'w1'], ['p', 'd2'], ['p', 'd2', 'w2']];

const SCOPES: Array<AccessScope | null> = [
  null,
  {},
  { domains: ['env'] },
  { areas: ['d1'] },
  { domains: ['env', 'lighting'], areas: ['d1', 'w2'] },
  { domains: ['traffic'], areas: ['w1', 'd1'] },
];

describe('{scope: true} rooms', () => {
  it('hold a reading exactly when the scope holds its device, for every domain and area', () => {
    for (const scope of SCOPES) {
      const rooms = new Set(liveRoomsOfScope(scope));
      for (const domain of DOMAINS) {
        for (const areaPath of PATHS) {
          const reading = { domain, deviceId: 'dev-1', areaPath };
          const delivered = liveRoomsFor(reading).some((room) => rooms.has(room));
          expect({ scope, domain, areaPath, delivered }).toEqual({
            scope,
            domain,
            areaPath,
            delivered: scopeHoldsDevice(scope, reading),
          });
        }
      }
    }
  });

  it('are the rooms liveRoomOf names for the same filters', () => {
    expect(liveRoomsOfScope({ domains: ['env'], areas: ['d1', 'w2'] })).toEqual([
      liveRoomOf({ domain: 'env', area: 'd1' }),
      liveRoomOf({ domain: 'env', area: 'w2' }),
    ]);
    expect(liveRoomsOfScope({ areas: ['d1'] })).toEqual([liveRoomOf({ area: 'd1' })]);
    expect(liveRoomsOfScope(null)).toEqual(DOMAINS.map((domain) => liveRoomOf({ domain })));
  });

  it('is a subscription of its own (rejections aside)', () => {
    expect(liveSubscriptionSchema.safeParse({ scope: true }).success).toBe(true);
    expect(liveSubscriptionSchema.safeParse({ scope: true, rejections: true }).success).toBe(true);
    for (const mixed of [
      { scope: true, domain: 'env' },
      { scope: true, area: 'd1' },
      { scope: true, device: 'dev-1' },
    ]) {
      const parsed = liveSubscriptionSchema.safeParse(mixed);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(['scope']);
    }
    expect(liveSubscriptionSchema.safeParse({ scope: false }).success).toBe(false);
  });

  it('reads a room name back into the filters liveRoomOf made it from', () => {
    for (const filters of [
      { domain: 'env' as const },
      { area: 'd1.x-y' },
      { device: 'dev-1' },
      { domain: 'lighting' as const, area: 'w2' },
    ]) {
      expect(liveRoomFilters(liveRoomOf(filters) ?? '')).toEqual(filters);
    }
    expect(liveRoomFilters(LIVE_REJECTIONS_ROOM)).toBeUndefined();
    expect(liveRoomFilters('domain:water')).toBeUndefined();
    expect(liveRoomFilters('socket-id-123')).toBeUndefined();
  });
});
