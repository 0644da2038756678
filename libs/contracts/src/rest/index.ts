export * from './rest-bodies';
/** ISO-8601 date-time with seconds and a UTC offset: how ingest reads `ts`, and REST reads from/to. */
export { ISO_TIMESTAMP } from '../payload-schemas';
export * from './provisioning-bodies';
export * from './command-bodies';
export * from './access-bodies';
export * from './sso-bodies';
export * from './alert-bodies';
export * from './notification-bodies';
export * from './console-bodies';
