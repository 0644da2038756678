import { METRIC_CATALOGUE, type MetricDefinition, type MetricName } from '@ioc/contracts';

/**
 * Keeps a modelled value inside the catalogue's physical range and rounds it to a sensible
 * precision (integers for integer metrics), so noise tails can never produce a rejected message.
 */
export function metric(name: MetricName, value: number, decimals = 2): number {
  const definition: MetricDefinition = METRIC_CATALOGUE[name];
  if (definition.kind !== 'number' && definition.kind !== 'integer') {
    throw new Error(`metric "${name}" is not numeric`);
  }
  const bounded = Math.min(
    definition.max,
    Math.max(definition.min, Number.isFinite(value) ? value : definition.min),
  );
  if (definition.kind === 'integer') return Math.round(bounded);
  const factor = 10 ** decimals;
  return Math.round(bounded * factor) / factor;
}

export const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));
