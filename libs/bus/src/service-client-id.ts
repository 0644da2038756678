import { RESERVED_CLIENT_ID_PREFIX } from '@ioc/contracts';

/** Node ids: lower-case letters, digits and `-`, 1–32 characters (e.g. `1`, `api-hcm-2`). */
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * The reserved MQTT client id of one node of a platform service: `ioc-<role>-<nodeId>`, e.g.
 * `ioc-api-1`. Stable across restarts (a restart takes its own place, it does not add a session)
 * and unique per node (two API nodes do not knock each other off the broker). Only a client that
 * logs in with the internal username and secret may use an id with this prefix.
 * @throws RangeError when the role or node id is not of the allowed form.
 */
export function serviceClientId(role: string, nodeId: string): string {
  if (!/^[a-z][a-z0-9]{0,15}$/.test(role))
    throw new RangeError(`service role "${role}" must match [a-z][a-z0-9]{0,15}`);
  if (!NODE_ID_PATTERN.test(nodeId))
    throw new RangeError(`node id "${nodeId}" must match ${NODE_ID_PATTERN}`);
  return `${RESERVED_CLIENT_ID_PREFIX}${role}-${nodeId}`;
}

/** Whether a client id is of the reserved form `serviceClientId` makes. */
export function isServiceClientId(clientId: string): boolean {
  return clientId.startsWith(RESERVED_CLIENT_ID_PREFIX) && clientId.length > RESERVED_CLIENT_ID_PREFIX.length;
}
