import { createParamDecorator, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { AuditActor, AuditEntryInput, AuditLog } from '@ioc/audit';
import type { Logger } from '@ioc/runtime';
import type { AuthenticatedRequest } from '../common/auth.decorators';
import { AUDIT_LOG, LOGGER } from '../tokens';

/**
 * The request, for AuditTrail.record: its principal and address. A decorator of its own rather
 * than `@Req()`, which would tell the OpenAPI checks that the route reads a body.
 */
export const AuditedRequest = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthenticatedRequest =>
    context.switchToHttp().getRequest<AuthenticatedRequest>(),
);

/** What a route records: an AuditEntryInput whose actor and address come from the request. */
export type AuditedAction = Omit<AuditEntryInput, 'actor' | 'address'> & {
  /** Default: the request's principal, or `{kind: 'anonymous'}` when it has none. */
  actor?: AuditActor;
};

/**
 * Records the API's audited actions in the audit log (the `audit` port; without it, nothing).
 * The actor is the request's principal (set by the authentication guard), the address
 * `request.ip` (as Express's trust proxy setting resolves it).
 *
 * An entry is recorded after the action committed, not in its transaction. It is awaited, so an
 * answered change is an audited one: if the audit log cannot be written (the database failing
 * right after the write), the failure is logged at error level with the action, entity and actor,
 * and the answer is a 500 (the change itself stands; the log line is its trace). The auth routes'
 * AuthAudit does the same.
 */
@Injectable()
export class AuditTrail {
  constructor(
    @Inject(AUDIT_LOG) private readonly audit: AuditLog | null,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The audit log, or null when the API has none. */
  get log(): AuditLog | null {
    return this.audit;
  }

  /** Records `action` as done by the request's principal from its address (see the class). */
  async record(request: AuthenticatedRequest, action: AuditedAction): Promise<void> {
    await this.recordFrom(request.principal, request.ip ?? null, action);
  }

  /**
   * Records `action` as done by `principal` (default actor; `{kind: 'anonymous'}` when undefined)
   * from `address` — for what is not an HTTP request (a /live socket's handshake address).
   * @throws what the audit log throws (logged first), as record
   */
  async recordFrom(
    principal: AuditActor | undefined,
    address: string | null,
    action: AuditedAction,
  ): Promise<void> {
    if (this.audit === null) return;
    const { actor, ...rest } = action;
    const entry: AuditEntryInput = {
      ...rest,
      actor: actor ?? principal ?? { kind: 'anonymous' },
      address,
    };
    try {
      await this.audit.record(entry);
    } catch (error) {
      this.logger.error(
        { err: (error as Error).message, action: entry.action, entity: entry.entity, actor: entry.actor.id },
        'audit entry not recorded',
      );
      throw error;
    }
  }
}
