import { type Device, DOMAINS } from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import { selectDevices } from './device-selection';

describe('selectDevices', () => {
  const devices = loadSeeds().devices;

  it('takes devices round-robin across the four domains', () => {
    const picked = selectDevices(devices, 8);
    expect(picked.map((d) => d.domain)).toEqual([...DOMAINS, ...DOMAINS]);
  });

  it('covers every device type as soon as the count allows', () => {
    const types = new Set(devices.map((d) => d.type));
    const picked = selectDevices(devices, 4 * 4); // env has the most types: four
    expect(new Set(picked.map((d) => d.type))).toEqual(types);
  });

  it('returns distinct devices, all of them when asked for more', () => {
    const all = selectDevices(devices, devices.length + 10);
    expect(all).toHaveLength(devices.length);
    expect(new Set(all.map((d) => d.id)).size).toBe(devices.length);
    expect(selectDevices(devices, 0)).toEqual([]);
  });

  it('keeps going with the remaining domains when one runs out', () => {
    const camera: Device[] = devices.filter((d) => d.domain === 'camera').slice(0, 2);
    const lights: Device[] = devices.filter((d) => d.type === 'street-light').slice(0, 5);
    const picked = selectDevices([...camera, ...lights], 7);
    expect(picked.map((d) => d.domain)).toEqual([
      'lighting',
      'camera',
      'lighting',
      'camera',
      'lighting',
      'lighting',
      'lighting',
    ]);
  });
});
