import { HttpException, ServiceUnavailableException } from '@nestjs/common';
import { AccessError } from '@ioc/access';
import { repositoryHttpError } from '../common/registry-errors';

/**
 * The HTTP answer of a refused access write (accounts, agencies, keys): AccessError `invalid` →
 * 400, `not-found` → 404, `conflict` → 409, each with the repository's message and, as
 * `parameter`, the field at fault (`field` when given: the request's name for it, else the
 * error's). Anything else is
 * returned as it is (the exception filter makes it a 500).
 */
export function accessHttpError(error: unknown, field?: string): unknown {
  if (error instanceof HttpException || !(error instanceof AccessError)) return error;
  return repositoryHttpError(error.code, error.message, field ?? error.field);
}

/** Runs an access write, turning its AccessError into the HTTP answer. */
export async function accessWrite<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw accessHttpError(error);
  }
}

/** 503 for an agency MQTT secret on an API without the device credential key (no registry database). */
export function credentialKeyUnavailable(): ServiceUnavailableException {
  return new ServiceUnavailableException({
    statusCode: 503,
    error: 'Service Unavailable',
    reason: 'registry-unavailable',
    message: 'this API node has no registry database: MQTT secrets cannot be issued',
  });
}
