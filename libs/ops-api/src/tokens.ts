/** Injection tokens for the ports the app hands to the API module. */
export const TIME_SERIES_STORE = Symbol('TimeSeriesStore');
export const DEVICE_REGISTRY = Symbol('DeviceRegistry');
export const OPS_API_SETTINGS = Symbol('OpsApiSettings');
export const LOGGER = Symbol('Logger');
export const DEVICE_STATUS = Symbol('DeviceStatusReader');
export const REGISTRY_PROVISIONING = Symbol('RegistryProvisioning');
export const COMMANDS = Symbol('CommandRepository');
/** Where rate-limit counters live (a ThrottlerStorage), or null: the throttler's in-memory storage. */
export const RATE_LIMIT_STORAGE = Symbol('RateLimitStorage');
/**
 * The socket.io adapter factory shared by every namespace (the Redis streams adapter with
 * IOC_REDIS_URL), or null: socket.io's in-memory adapter, one node.
 */
export const LIVE_ADAPTER = Symbol('LiveAdapter');
export const ACCESS = Symbol('Access');
export const AUDIT_LOG = Symbol('AuditLog');
/** Single sign-on (OidcPort), or null when it is off. */
export const OIDC = Symbol('Oidc');
/** Rules, alerts and silences (AlertingPort), or null: the alert routes answer 503. */
export const ALERTING = Symbol('Alerting');
/** Agencies' webhook endpoints, subscriptions and deliveries (NotificationsPort), or null. */
export const NOTIFICATIONS = Symbol('Notifications');
/**
 * What is wrong with this API node itself (`() => HealthCondition[]`, e.g. `node-id-taken`), shown
 * by /health; an empty list when nothing is or when the app gives none.
 */
export const NODE_HEALTH = Symbol('NodeHealth');

/**
 * The registry database's health (a DatabaseProbe from @ioc/database), or null: `/health` reports
 * no database and the exception filter still answers 503 database-unavailable by the classifier.
 */
export const DATABASE_HEALTH = Symbol('DatabaseHealth');
