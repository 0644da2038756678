// People and agencies: accounts, login sessions, agencies and their API keys (see README.md).
export * from './access-error';
export * from './access-env';
export * from './passwords';
export * from './accounts';
export * from './agencies';
export * from './api-keys';
export * from './sessions';
export * from './login-service';
export * from './principals';
export * from './first-admin';
export { type Clock } from './access-common';
