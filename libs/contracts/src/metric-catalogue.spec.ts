import {
  DEVICE_TYPE_CONTRACTS,
  DEVICE_TYPES,
  type DeviceTypeContract,
  domainOf,
  isDeviceType,
  derivedMetricsOf,
  metricsOf,
  STATUS_METRICS,
} from './device-types';
import { DOMAINS, isDomain } from './domains';
import { isMetricName, METRIC_CATALOGUE, METRIC_NAMES, type MetricDefinition } from './metric-catalogue';

const definitions = Object.entries(METRIC_CATALOGUE) as [string, MetricDefinition][];
const contracts = Object.entries(DEVICE_TYPE_CONTRACTS) as [string, DeviceTypeContract][];

/** Every (list, metric) a contract names, labelled for failure messages. */
function namedMetrics(contract: DeviceTypeContract): [string, string][] {
  const lists: [string, readonly string[]][] = [
    ['telemetry.required', contract.telemetry.required],
    ['telemetry.optional', contract.telemetry.optional],
    ...Object.entries(contract.events).flatMap(([event, metrics]): [string, readonly string[]][] => [
      [`events.${event}.required`, metrics.required],
      [`events.${event}.optional`, metrics.optional],
    ]),
  ];
  return lists.flatMap(([list, names]) => names.map((name): [string, string] => [list, name]));
}

describe('metric catalogue', () => {
  it('is not empty and METRIC_NAMES lists exactly its keys', () => {
    expect(definitions.length).toBeGreaterThan(0);
    expect(METRIC_NAMES).toEqual(Object.keys(METRIC_CATALOGUE));
  });

  describe.each(definitions)('%s', (name, definition) => {
    it('has a description, a UCUM code and a display unit', () => {
      expect(definition.description.trim().length).toBeGreaterThan(0);
      expect(definition.ucum.trim()).toBe(definition.ucum);
      expect(definition.ucum.length).toBeGreaterThan(0);
      expect(typeof definition.unit).toBe('string');
      // A dimensioned quantity needs a symbol to be displayed with; only `1` may go without.
      if (definition.ucum !== '1') expect(definition.unit.length).toBeGreaterThan(0);
    });

    it('is well formed for its kind', () => {
      switch (definition.kind) {
        case 'number':
        case 'integer':
          expect(Number.isFinite(definition.min)).toBe(true);
          expect(Number.isFinite(definition.max)).toBe(true);
          expect(definition.min).toBeLessThan(definition.max);
          if (definition.kind === 'integer') {
            expect(Number.isInteger(definition.min)).toBe(true);
            expect(Number.isInteger(definition.max)).toBe(true);
          }
          break;
        case 'enum':
          expect(definition.values.length).toBeGreaterThan(0);
          expect(new Set(definition.values).size).toBe(definition.values.length);
          for (const value of definition.values) expect(value).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
          expect(definition.ucum).toBe('1');
          break;
        case 'boolean':
          expect(definition.ucum).toBe('1');
          break;
        case 'text':
          expect(definition.maxLength).toBeGreaterThan(0);
          expect(definition.pattern.source.startsWith('^')).toBe(true);
          expect(definition.pattern.source.endsWith('$')).toBe(true);
          break;
      }
    });

    it('has a name usable as a JSON key, an InfluxDB field and a FIWARE attribute', () => {
      expect(name).toMatch(/^[a-z][A-Za-z0-9]*$/);
      expect(isMetricName(name)).toBe(true);
    });
  });

  it('rejects names that are not its own, including inherited ones', () => {
    for (const name of ['', 'PM25', 'pm2.5', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(isMetricName(name)).toBe(false);
    }
  });

  it('has no metric that no device type or status message can carry', () => {
    const used = new Set<string>([
      ...STATUS_METRICS,
      ...DEVICE_TYPES.flatMap((type) => [...metricsOf(type), ...derivedMetricsOf(type)]),
    ]);
    expect(METRIC_NAMES.filter((name) => !used.has(name))).toEqual([]);
  });
});

describe('device type contracts', () => {
  it('has at least one device type', () => {
    expect(DEVICE_TYPES.length).toBeGreaterThan(0);
    expect(DEVICE_TYPES).toEqual(Object.keys(DEVICE_TYPE_CONTRACTS));
  });

  describe.each(contracts)('%s', (type, contract) => {
    it('belongs to a known domain and names a FIWARE type', () => {
      expect(isDomain(contract.domain)).toBe(true);
      expect(contract.description.trim().length).toBeGreaterThan(0);
      expect(contract.fiwareType).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(isDeviceType(type)).toBe(true);
    });

    it('names only metrics that exist in the catalogue', () => {
      const unknown = namedMetrics(contract).filter(([, name]) => !isMetricName(name));
      expect(unknown).toEqual([]);
    });

    it('requires at least one telemetry metric', () => {
      expect(contract.telemetry.required.length).toBeGreaterThan(0);
    });

    it('never lists a metric twice within one message kind', () => {
      const kinds = [contract.telemetry, ...Object.values(contract.events)];
      for (const kind of kinds) {
        const all = [...kind.required, ...kind.optional];
        expect(new Set(all).size).toBe(all.length);
      }
    });

    it('derives only catalogue metrics that no device message of any type may carry', () => {
      const reported = new Set<string>([
        ...STATUS_METRICS,
        ...DEVICE_TYPES.flatMap((t) => namedMetrics(DEVICE_TYPE_CONTRACTS[t]).map(([, name]) => name)),
      ]);
      for (const name of contract.derived) {
        expect(isMetricName(name)).toBe(true);
        expect([name, reported.has(name)]).toEqual([name, false]);
      }
    });

    it('has event names usable as JSON values', () => {
      for (const event of Object.keys(contract.events)) expect(event).toMatch(/^[a-z][A-Za-z0-9]*$/);
    });
  });

  it.each(DOMAINS)('domain %s has at least one device type', (domain) => {
    expect(DEVICE_TYPES.filter((type) => domainOf(type) === domain).length).toBeGreaterThan(0);
  });

  it('rejects device type names that are not its own', () => {
    for (const name of ['', 'Camera', 'cctv', 'constructor', '__proto__', 'toString']) {
      expect(isDeviceType(name)).toBe(false);
    }
  });

  it('status metrics exist in the catalogue and start with the required `online`', () => {
    expect(STATUS_METRICS[0]).toBe('online');
    for (const name of STATUS_METRICS) expect(isMetricName(name)).toBe(true);
  });
});

describe('metricsOf', () => {
  it.each(contracts)('%s: every telemetry and event metric, each once', (type, contract) => {
    const expected = new Set(namedMetrics(contract).map(([, name]) => name));
    const actual = metricsOf(type as keyof typeof DEVICE_TYPE_CONTRACTS);
    expect(actual).toHaveLength(expected.size);
    expect(new Set(actual)).toEqual(expected);
  });

  it('includes event-only metrics and leaves out status-only ones', () => {
    const camera = metricsOf('camera');
    expect(camera).toEqual(expect.arrayContaining(['online', 'count', 'congestionLevel', 'peopleCount']));
    expect(camera).not.toContain('batteryLevel');
    expect(metricsOf('noise-meter').sort()).toEqual(['laeq', 'lamax']);
  });

  it('returns a fresh array each time', () => {
    const first = metricsOf('air-quality-station');
    first.push('online');
    expect(metricsOf('air-quality-station')).not.toContain('online');
  });
});

describe('derived metrics', () => {
  it('an air-quality station has the hourly VN_AQI (aqi 0–500 integer, aqiDominant a pollutant); others none', () => {
    expect(derivedMetricsOf('air-quality-station')).toEqual(['aqi', 'aqiDominant']);
    expect(METRIC_CATALOGUE.aqi).toMatchObject({ kind: 'integer', min: 0, max: 500, ucum: '1' });
    expect(METRIC_CATALOGUE.aqi.description).toContain('1459/QĐ-TCMT');
    expect(METRIC_CATALOGUE.aqiDominant.values).toEqual(['pm25', 'pm10', 'o3', 'co', 'so2', 'no2']);
    for (const type of DEVICE_TYPES.filter((t) => t !== 'air-quality-station')) {
      expect([type, derivedMetricsOf(type)]).toEqual([type, []]);
    }
  });
});
