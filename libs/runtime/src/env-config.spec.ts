import { z } from 'zod';
import { ConfigError, envField, parseEnv } from './env-config';

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
