export * from './time-series-store';
