import { randomUUID } from 'node:crypto';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { AuditLog } from '@ioc/audit';
import type { Logger } from '@ioc/runtime';
import type { Response } from 'express';
import { AuditTrail } from '../audit/audit-trail.service';
import { AUDIT_LOG, LOGGER } from '../tokens';
import type { AuthenticatedRequest } from './auth.decorators';

/**
 * HTTP errors pass through as they are; anything else becomes a 500 that hides the internals
 * and carries a correlation id, logged with the full error.
 *
 * A 403 `reason: 'out-of-scope'` answered to a principal — wherever it was thrown (ScopeService,
 * UnscopedOnlyGuard, MetricsAccessGuard) — is audited first, here in one place: `auth.denied`,
 * outcome `denied`, detail `{reason: 'out-of-scope', outOfScope, method, path}`. One entry per
 * refused request (a filter runs once per request; the rate limit bounds requests). A 403
 * `role-required` is audited by AuthorizationGuard, where it is decided.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly trail: AuditTrail;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(AUDIT_LOG) audit: AuditLog | null,
  ) {
    // The audit module's recorder, built here: the filter lives in the core module, which every
    // module (the audit one included) depends on.
    this.trail = new AuditTrail(audit, logger);
  }

  async catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    if (host.getType() !== 'http') return;
    const response = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      await this.auditOutOfScope(host.switchToHttp().getRequest<AuthenticatedRequest>(), body);
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

  /** Records an out-of-scope refusal of a principal (see the class); a failing audit log is logged, the 403 stands. */
  private async auditOutOfScope(request: AuthenticatedRequest, body: string | object): Promise<void> {
    const refusal = body as { reason?: unknown; outOfScope?: unknown };
    if (request.principal === undefined || typeof body !== 'object' || refusal.reason !== 'out-of-scope')
      return;
    try {
      await this.trail.record(request, {
        action: 'auth.denied',
        outcome: 'denied',
        detail: {
          reason: 'out-of-scope',
          outOfScope: refusal.outOfScope ?? null,
          method: request.method,
          path: request.path,
        },
      });
    } catch {
      // AuditTrail logged it at error level; the refusal is answered all the same.
    }
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
