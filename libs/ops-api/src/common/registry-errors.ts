import {
  BadRequestException,
  ConflictException,
  HttpException,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ImportFileError, RegistryError } from '@ioc/registry';

/**
 * The HTTP answer of a refused registry write: RegistryError `invalid` → 400, `not-found` → 404,
 * `conflict` → 409, each with the repository's message and, as `parameter`, the field at fault;
 * an ImportFileError → 400. Anything else is returned as it is (the exception filter makes it a 500).
 */
export function registryHttpError(error: unknown): unknown {
  if (error instanceof HttpException) return error;
  if (error instanceof ImportFileError) {
    return new BadRequestException({ statusCode: 400, error: 'Bad Request', message: error.message });
  }
  if (!(error instanceof RegistryError)) return error;
  return repositoryHttpError(error.code, error.message, error.field);
}

/**
 * The HTTP answer of a repository's refusal by its code — `invalid` → 400, `not-found` → 404,
 * `conflict` → 409 — with its message and, as `parameter`, the field at fault when there is one.
 * Shared by the registry's and the access library's errors, which have the same three codes.
 */
export function repositoryHttpError(
  code: 'invalid' | 'not-found' | 'conflict',
  message: string,
  field: string | undefined,
): HttpException {
  const parameter = field === undefined ? {} : { parameter: field };
  switch (code) {
    case 'invalid':
      return new BadRequestException({ statusCode: 400, error: 'Bad Request', message, ...parameter });
    case 'not-found':
      return new NotFoundException({ statusCode: 404, error: 'Not Found', message, ...parameter });
    case 'conflict':
      return new ConflictException({ statusCode: 409, error: 'Conflict', message, ...parameter });
  }
}

/** 503 for a write on an API started without the registry database. */
export function registryUnavailable(): ServiceUnavailableException {
  return new ServiceUnavailableException({
    statusCode: 503,
    error: 'Service Unavailable',
    reason: 'registry-unavailable',
    message: 'this API node has no registry database: registry writes are unavailable',
  });
}
