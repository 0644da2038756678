export * from './prng';
export * from './local-time';
export * from './models';
export * from './rate-pacer';
export * from './device-selection';
export * from './faults';
export * from './simulator';
