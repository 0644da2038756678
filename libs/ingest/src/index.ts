export * from './broker/ingest-broker';
export * from './broker/internal-clients';
export * from './device-directory';
export * from './ingest-pipeline';
export * from './ingest-stats';
export { jsonArray } from './json-array';
export * from './broker-config';
export * from './device-status-tracker';
