export * from './seed-schemas';
export * from './seed-validation';
export * from './seed-loader';
export * from './device-registry';
export * from './device-secrets';
export * from './credential-key';
export * from './registry-repository';
export * from './registry-sync';
