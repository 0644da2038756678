import { randomUUID } from 'node:crypto';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { AuditLog } from '@ioc/audit';
import {
  DATABASE_PROBE_INTERVAL_MS,
  DATABASE_UNAVAILABLE,
  type DatabaseProbe,
  type DatabaseUnavailableKind,
  databaseUnavailableKind,
  describeUnavailableKind,
} from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import type { Response } from 'express';
import { AuditTrail } from '../audit/audit-trail.service';
import { AUDIT_LOG, DATABASE_HEALTH, LOGGER } from '../tokens';
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
 *
 * An error that means the registry database cannot be reached (databaseUnavailableKind: connection
 * refused, 57P01 admin_shutdown, SQLSTATE class 08, a lost or timed-out connection) is a 503
 * `reason: database-unavailable` with `Retry-After` and a correlation id, not a 500; a probe
 * confirms it first (see databaseUnavailable), which also turns `/health` down at once.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly trail: AuditTrail;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(AUDIT_LOG) audit: AuditLog | null,
    @Inject(DATABASE_HEALTH) private readonly database: Pick<DatabaseProbe, 'health' | 'probe'> | null,
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
    const unavailable = await this.databaseUnavailable(exception);
    if (unavailable !== undefined) {
      this.logger.warn(
        {
          err: exception instanceof Error ? exception.message : String(exception),
          correlationId,
          unavailable,
        },
        'registry database cannot be reached',
      );
      response
        .status(503)
        .setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS))
        .json({
          statusCode: 503,
          error: 'Service Unavailable',
          reason: DATABASE_UNAVAILABLE,
          message: `The registry database cannot be reached (${describeUnavailableKind(unavailable)}): requests that read or write it fail until it is back; retry later. Live feeds already open on /live keep working.`,
          correlationId,
        });
      return;
    }
    this.logger.error({ err: exception, correlationId }, 'unhandled error');
    response.status(500).json({ statusCode: 500, error: 'Internal Server Error', correlationId });
  }

  /**
   * The kind of database unavailability `exception` shows, when the API runs on PostgreSQL and a
   * probe (`SELECT 1`) confirms the database does not answer now: the classifier alone would also
   * match an unrelated refused connection (an OpenID provider, a webhook endpoint), which stays a
   * 500. One probe per such failure, bounded by DATABASE_PROBE_TIMEOUT_MS; it also turns
   * `/health` down at once.
   */
  private async databaseUnavailable(exception: unknown): Promise<DatabaseUnavailableKind | undefined> {
    const kind = databaseUnavailableKind(exception);
    if (kind === undefined || this.database === null || this.database.health().kind !== 'postgres')
      return undefined;
    return (await this.database.probe()) ? undefined : kind;
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

/**
 * `Retry-After` of a 503 database-unavailable (seconds): the health probe's interval, rounded up —
 * by then `/health` has asked the database again.
 */
export const DATABASE_RETRY_AFTER_SECONDS = Math.ceil(DATABASE_PROBE_INTERVAL_MS / 1000);

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
