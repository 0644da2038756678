// The append-only, hash-chained audit log (see README.md).
export * from './audit-log';
export * from './audit-csv';
export { canonicalJson } from './canonical-json';
export { isSecretName, REDACTED, redactSecrets, SECRET_NAME_WORDS } from './redaction';
