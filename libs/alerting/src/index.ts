export * from './alerting-error';
export * from './rule-validation';
export * from './rule-repository';
export * from './alert-repository';
export * from './silence-repository';
export * from './seed-rules';
export * from './engine-host';
export * from './notify';
