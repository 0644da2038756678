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
    // A body parser's refusal (http-errors: 400 unparsable JSON, 413 too large, 415 charset) is
    // the client's error, not a 500.
    const clientError = asBodyParserError(exception);
    if (clientError) {
      response.status(clientError.status).json({
        statusCode: clientError.status,
        error:
          clientError.status === 413
            ? 'Payload Too Large'
            : clientError.status === 415
              ? 'Unsupported Media Type'
              : 'Bad Request',
        message:
          clientError.status === 413
            ? `The body is larger than this route accepts (${clientError.limit ?? '?'} bytes)`
            : clientError.message,
      });
      return;
    }
    const correlationId = randomUUID();
    this.logger.error({ err: exception, correlationId }, 'unhandled error');
    response.status(500).json({ statusCode: 500, error: 'Internal Server Error', correlationId });
  }
}

/** An error a body parser threw for the request (http-errors with `expose` and a 4xx status). */
function asBodyParserError(
  exception: unknown,
): { status: number; message: string; limit?: number } | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const { status, expose, message, limit, type } = exception as {
    status?: unknown;
    expose?: unknown;
    message?: unknown;
    limit?: unknown;
    type?: unknown;
  };
  if (expose !== true || typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (
    typeof type !== 'string' ||
    (!type.startsWith('entity.') &&
      !type.startsWith('charset.') &&
      !type.startsWith('encoding.') &&
      type !== 'request.size.invalid' &&
      type !== 'request.aborted')
  )
    return undefined;
  return {
    status,
    message: typeof message === 'string' ? message.slice(0, 200) : 'invalid body',
    ...(typeof limit === 'number' ? { limit } : {}),
  };
}
