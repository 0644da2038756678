export * from './alert-engine-host';
export * from './registry-directory';
export * from './alerting-env';
export * from './alert-engine-leader';
export * from './reading-stream';
export * from './alert-engine-runtime';
