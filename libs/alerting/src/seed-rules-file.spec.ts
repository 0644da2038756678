import { DEFAULT_SEEDS_DIR, loadSeeds } from '@ioc/registry';
import { renderMessage } from '@ioc/alert-engine';
import { aqiValueBand } from '@ioc/aqi';
import { readSeedRules } from './seed-rules';

/** The committed seeds/rules.json: valid, sourced, and consistent with seeds/devices.json. */
describe('seeds/rules.json', () => {
  const rules = readSeedRules(DEFAULT_SEEDS_DIR);
  const { devices, areas } = loadSeeds(DEFAULT_SEEDS_DIR);

  it('parses with the contracts schema and the template, metric and event checks', () => {
    expect(rules.length).toBeGreaterThan(20);
  });

  it('names the band of the VN_AQI value in the hourly AQI message (152 is Xấu, not Kém)', () => {
    const aqi = rules.find((r) => r.id === 'vn-aqi-hourly-poor');
    if (!aqi) throw new Error('vn-aqi-hourly-poor missing');
    const render = (value: number) =>
      renderMessage(aqi.message, {
        deviceName: 'T',
        areaName: 'A',
        metric: 'aqi',
        value,
        limit: 101,
        band: aqiValueBand('aqi', value) ?? null,
      });
    expect(render(152).vi).toContain('152 (Xấu)');
    expect(render(152).vi).not.toContain('Kém');
    expect(render(152).en).toContain('152 (Bad)');
    expect(render(120).vi).toContain('120 (Kém)');
  });

  it('names each seeded device once, without a doubled noun or its ward repeated, in vi and en', () => {
    const areaName = new Map(areas.map((a) => [a.id, a.name]));
    let checked = 0;
    for (const rule of rules) {
      const types = rule.scope.deviceTypes;
      for (const device of devices.filter((d) => types === undefined || types.includes(d.type))) {
        const area = areaName.get(device.areaId) ?? device.areaId;
        const rendered = renderMessage(rule.message, {
          deviceName: device.name,
          deviceId: device.id,
          areaName: area,
          areaId: device.areaId,
          metric: rule.kind === 'threshold' ? rule.metric : null,
          value: 1,
          limit: 1,
          windowSeconds: 3600,
          standard: rule.source?.standard ?? null,
        });
        for (const text of [rendered.vi, rendered.en]) {
          const count = (needle: string) => text.split(needle).length - 1;
          const firstWord = device.name.split(' ')[0];
          const where = { rule: rule.id, device: device.id, text };
          expect({ ...where, names: count(device.name) }).toEqual({ ...where, names: 1 });
          expect({ ...where, doubled: text.includes(`${firstWord} ${device.name}`) }).toEqual({
            ...where,
            doubled: false,
          });
          // The seeded names end with their ward ("…, Phường 1"): the area is not added again.
          if (device.name.includes(area))
            expect({ ...where, area: count(area) }).toEqual({ ...where, area: 1 });
        }
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('cites a source for every rule', () => {
    for (const rule of rules) expect(rule.source?.standard).toEqual(expect.any(String));
  });

  it('switches PM2.5 24 h from 50 to 45 µg/m³ at 2026-01-01T00:00+07:00, as data', () => {
    const pm25 = rules.filter((r) => r.kind === 'threshold' && r.metric === 'pm25');
    const until = pm25.find((r) => r.validUntil !== undefined);
    const from = pm25.find((r) => r.validFrom !== undefined);
    expect(until).toMatchObject({ condition: { op: 'above', value: 50 } });
    expect(from).toMatchObject({ condition: { op: 'above', value: 45 } });
    expect(Date.parse(until?.validUntil ?? '')).toBe(Date.parse('2025-12-31T17:00:00Z'));
    expect(from?.validFrom).toBe(until?.validUntil);
  });

  it('gives every numeric limit a clear condition a little inside it (hysteresis)', () => {
    for (const rule of rules) {
      if (rule.kind !== 'threshold' || (rule.condition.op !== 'above' && rule.condition.op !== 'below'))
        continue;
      if (typeof rule.condition.value !== 'number') continue;
      const clear = rule.clear;
      expect({ id: rule.id, clear: clear?.op }).toEqual({
        id: rule.id,
        clear: rule.condition.op === 'above' ? 'below' : 'above',
      });
      const limit = rule.condition.value;
      const back = (clear as { value: number }).value;
      if (rule.condition.op === 'above') expect(back).toBeLessThan(limit);
      else expect(back).toBeGreaterThan(limit);
    }
  });

  it('keys zone limits on attributes the seeded devices carry', () => {
    for (const rule of rules) {
      const attributes = rule.scope.attributes;
      if (!attributes) continue;
      const covered = devices.filter(
        (d) =>
          (rule.scope.deviceTypes === undefined || rule.scope.deviceTypes.includes(d.type)) &&
          Object.entries(attributes).every(([k, v]) => d.attributes?.[k] === String(v)),
      );
      // Class C water has no seeded station (a configuration for stations added later).
      if (rule.id.endsWith('class-c')) continue;
      expect({ id: rule.id, covered: covered.length > 0 }).toEqual({ id: rule.id, covered: true });
    }
    const zones = new Set(
      devices.filter((d) => d.type === 'noise-meter').map((d) => d.attributes?.['noiseZone']),
    );
    expect([...zones].sort()).toEqual(['normal', 'special']);
  });
});
