/**
 * The internal secret on a developer's machine, so `npm start` needs no set-up; the broker warns
 * at start when it is in use. Production sets `IOC_INTERNAL_SECRET` (at least 16 characters).
 */
export const DEVELOPMENT_INTERNAL_SECRET = 'ioc-dev-internal-secret';
