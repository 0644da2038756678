import { Injectable } from '@nestjs/common';
import type { Principal } from '@ioc/contracts';

/** One audit entry as the auth routes record it (the design page's AuditLog.record entry). */
export interface AuthAuditEntry {
  actor: Principal | { kind: 'system' | 'anonymous'; id?: string; name?: string };
  action: string;
  outcome?: 'success' | 'failure' | 'denied';
  entity?: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  detail?: Record<string, unknown>;
  address?: string;
}

/**
 * Where the auth, account, agency and key routes write their audit entries: the AuditLog of the
 * module options when the API has one, else nowhere. A failed write is logged by the caller's
 * filter as any error; entries are awaited so an answered change is an audited one.
 */
@Injectable()
export class AuthAudit {
  private sink: { record(entry: AuthAuditEntry): Promise<unknown> } | undefined;

  /** Sets the audit log (AuthModule does it from the options). */
  use(sink: { record(entry: AuthAuditEntry): Promise<unknown> } | undefined): void {
    this.sink = sink;
  }

  async record(entry: AuthAuditEntry): Promise<void> {
    if (this.sink) await this.sink.record(entry);
  }
}
