export * from './time-series-store';
export * from './storage-env';
