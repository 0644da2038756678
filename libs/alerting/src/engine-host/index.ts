export * from './alert-engine-host';
export * from './registry-directory';
export * from './alerting-env';
