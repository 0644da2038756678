export * from './api-client';
export * from './format';
export * from './i18n';
export * from './labels';
export * from './live-client';
export * from './device-view';
