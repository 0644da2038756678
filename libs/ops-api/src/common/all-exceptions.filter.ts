import { randomUUID } from 'node:crypto';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { Logger } from '@ioc/runtime';
import type { Response } from 'express';
import { LOGGER } from '../tokens';

/**
 * HTTP errors pass through as they are; anything else becomes a 500 that hides the internals
 * and carries a correlation id, logged with the full error.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const response = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      response.status(exception.getStatus()).json(typeof body === 'string' ? { message: body } : body);
      return;
    }
    const correlationId = randomUUID();
    this.logger.error({ err: exception, correlationId }, 'unhandled error');
    response.status(500).json({ statusCode: 500, error: 'Internal Server Error', correlationId });
  }
}
