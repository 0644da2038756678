import { z } from 'zod';
import { DEVICE_TYPES, STATUS_METRICS, derivedMetricsOf, metricsOf } from '../device-types';
import * as bodies from './rest-bodies';

describe('REST bodies', () => {
  const schemas = Object.entries(bodies).filter(([, value]) => value instanceof z.ZodType) as Array<
    [string, z.ZodType]
  >;

  it.each(schemas)(
    '%s converts to an OpenAPI 3.0 schema with nothing left unrepresented',
    (_name, schema) => {
      // toJSONSchema throws on anything JSON Schema cannot express (transforms, dates, bigints…).
      expect(() => z.toJSONSchema(schema, { target: 'openapi-3.0' })).not.toThrow();
    },
  );

  it('lets every device type be asked for its own metrics, every status metric and its derived metrics', () => {
    for (const type of DEVICE_TYPES) {
      const queryable = bodies.queryableMetricsOf(type);
      expect(new Set(queryable)).toEqual(
        new Set([...metricsOf(type), ...STATUS_METRICS, ...derivedMetricsOf(type)]),
      );
      expect(queryable).toHaveLength(new Set(queryable).size);
    }
    expect(bodies.queryableMetricsOf('air-quality-station')).toEqual(
      expect.arrayContaining(['aqi', 'aqiDominant']),
    );
    expect(bodies.queryableMetricsOf('noise-meter')).not.toContain('aqi');
  });

  it('declares the optional event of a camera value and refuses a body missing a required field', () => {
    const value = { value: 0.93, ts: 1_795_741_200_000, unit: '', event: 'accident' };
    expect(bodies.latestValueBody.parse(value)).toEqual(value);
    expect(bodies.latestBody.safeParse({ deviceId: 'cam-1', metrics: {} }).success).toBe(false);
    expect(bodies.errorBody.safeParse({ statusCode: 200, error: 'OK' }).success).toBe(false);
  });
});
