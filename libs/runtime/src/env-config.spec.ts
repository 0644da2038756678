import { z } from 'zod';
import { ConfigError, envField, parseDurationMs, parseEnv } from './env-config';

const schema = z.object({
  IOC_PORT: envField.port(1883),
  IOC_VERBOSE: envField.boolean(false),
  IOC_MODE: z.enum(['embedded', 'influxdb']).default('embedded'),
});

describe('parseEnv', () => {
  it('applies defaults for unset and empty variables', () => {
    expect(parseEnv(schema, { IOC_PORT: '' })).toEqual({
      IOC_PORT: 1883,
      IOC_VERBOSE: false,
      IOC_MODE: 'embedded',
    });
  });

  it('coerces the values it is given', () => {
    expect(parseEnv(schema, { IOC_PORT: '2883', IOC_VERBOSE: 'yes', IOC_MODE: 'influxdb' })).toEqual({
      IOC_PORT: 2883,
      IOC_VERBOSE: true,
      IOC_MODE: 'influxdb',
    });
  });

  it('names every bad variable and the value it got', () => {
    let caught: unknown;
    try {
      parseEnv(schema, { IOC_PORT: '70000', IOC_MODE: 'postgres' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^IOC_PORT: .*\(got "70000"\)$/);
    expect(problems[1]).toMatch(/^IOC_MODE: .*\(got "postgres"\)$/);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['90d', 90 * 86_400_000],
    ['1500', 1500],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '1.5h', '-1d', '1 h', '1w', '1'.repeat(10)])('refuses %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it('gives the default of a duration field in milliseconds', () => {
    expect(parseEnv(z.object({ KEEP: envField.duration('2d') }), {})).toEqual({ KEEP: 2 * 86_400_000 });
  });
});
