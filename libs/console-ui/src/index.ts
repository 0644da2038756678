export {};
export * from './device-panel';
export * from './camera-tiles';
export * from './value-format';
export * from './history-window';
export * from './command-model';
export * from './camera-model';
export * from './device-alerts';
