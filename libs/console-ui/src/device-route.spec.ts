import { hashForDevice, routeFromHash } from './device-route';

describe('device panel URL', () => {
  it('round-trips a device id through #/devices/<id>, encoding what needs it', () => {
    expect(hashForDevice('aq-001')).toBe('#/devices/aq-001');
    for (const id of ['aq-001', 'cam 5', 'x/y', 'Trạm#1', '<img>']) {
      expect(routeFromHash(hashForDevice(id))).toEqual({ kind: 'device', id });
    }
  });
  it('tells no route from an invalid one', () => {
    expect(routeFromHash('')).toEqual({ kind: 'none' });
    expect(routeFromHash('#')).toEqual({ kind: 'none' });
    expect(routeFromHash('#/devices/')).toEqual({ kind: 'invalid' });
    expect(routeFromHash('#/devices/a/b')).toEqual({ kind: 'invalid' });
    expect(routeFromHash('#/devices/%E0%A4%A')).toEqual({ kind: 'invalid' });
    expect(routeFromHash('#/alerts/1')).toEqual({ kind: 'invalid' });
  });
});
