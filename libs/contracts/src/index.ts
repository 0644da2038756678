export * from './domains';
export * from './device-types';
export * from './metric-catalogue';
export * from './payloads';
export * from './reading';
export * from './registry-entities';
export * from './rejections';
export * from './topics';
