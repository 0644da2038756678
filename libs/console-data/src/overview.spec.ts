import { DeviceStatusCounter, RateMeter } from './overview';

describe('DeviceStatusCounter', () => {
  it('counts devices per domain and status incrementally, moving a device between buckets', () => {
    const counter = new DeviceStatusCounter();
    counter.update([
      { id: 'a', domain: 'env', state: 'active', status: 'online' },
      { id: 'b', domain: 'env', state: 'active', status: 'offline' },
      { id: 'c', domain: 'traffic', state: 'active', status: 'unknown' },
      { id: 'd', domain: 'lighting', state: 'suspended', status: 'online' },
    ]);
    expect(counter.domain('env')).toEqual({ online: 1, offline: 1, unknown: 0, inactive: 0 });
    counter.update([{ id: 'b', domain: 'env', state: 'active', status: 'online' }], ['c']);
    counter.update([{ id: 'a', domain: 'env', state: 'active', status: 'online' }]);
    expect(counter.domain('env')).toEqual({ online: 2, offline: 0, unknown: 0, inactive: 0 });
    expect(counter.domain('traffic').unknown).toBe(0);
    expect(counter.total()).toEqual({ online: 2, offline: 0, unknown: 0, inactive: 1 });
  });

  it('says whether a delivery moved a count (a frame of readings alone does not: no redraw)', () => {
    const counter = new DeviceStatusCounter();
    expect(counter.update([{ id: 'a', domain: 'env', state: 'active', status: 'online' }])).toBe(true);
    expect(counter.update([{ id: 'a', domain: 'env', state: 'active', status: 'online' }])).toBe(false);
    expect(counter.update([{ id: 'a', domain: 'env', state: 'active', status: 'offline' }])).toBe(true);
    expect(counter.update([], ['nobody'])).toBe(false);
    expect(counter.update([], ['a'])).toBe(true);
    expect(counter.total().offline).toBe(0);
  });
});

describe('RateMeter', () => {
  it('gives the counter’s delta per second between samples, and restarts after a reset', () => {
    const meter = new RateMeter();
    expect(meter.sample(1000, 0)).toBeNull();
    expect(meter.sample(26_000, 5000)).toBe(5000);
    expect(meter.rate).toBe(5000);
    expect(meter.sample(10, 10_000)).toBeNull();
    expect(meter.sample(510, 11_000)).toBe(500);
  });
});
