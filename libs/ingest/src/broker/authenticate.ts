import type { AedesOptions, AuthenticateError } from 'aedes';
import type { Logger } from '@ioc/runtime';
import { INTERNAL_USERNAME } from '@ioc/contracts';
import type { InternalClients } from './internal-clients';

const BAD_USERNAME_OR_PASSWORD = 4;

/**
 * Platform services prove themselves with the internal secret. Devices are not authenticated yet
 * (per-device credentials arrive with the security work): they are recognised by the device id
 * in their topic, and unknown ids are refused message by message in authorizePublish.
 */
export function createAuthenticate(
  internal: InternalClients,
  logger: Logger,
): NonNullable<AedesOptions['authenticate']> {
  return (client, username, password, done) => {
    if (username !== INTERNAL_USERNAME) return done(null, true);
    if (internal.secretMatches(password)) {
      internal.admit(client);
      return done(null, true);
    }
    logger.warn({ clientId: client.id }, 'internal login with a wrong secret refused');
    const error = Object.assign(new Error('bad internal credentials'), {
      returnCode: BAD_USERNAME_OR_PASSWORD,
    }) as AuthenticateError;
    done(error, false);
  };
}
