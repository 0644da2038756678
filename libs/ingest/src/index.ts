export * from './broker/ingest-broker';
export * from './broker/internal-clients';
export * from './device-directory';
export * from './ingest-pipeline';
export * from './ingest-stats';
export * from './broker-config';
