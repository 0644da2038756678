import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@ioc/contracts';
import { AUDIT_LOG } from '../tokens';

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

/** What the API writes audit entries to: `@ioc/audit`'s AuditLog (its `record`). */
export interface AuditRecorder {
  record(entry: AuthAuditEntry): Promise<unknown>;
}

/**
 * Where the auth, account, agency and key routes and the guard write their audit entries: the
 * module options' `audit` when the API has one, else nowhere. Entries are awaited, so an answered
 * change is an audited one (a failing audit log makes the answer a 500).
 */
@Injectable()
export class AuthAudit {
  constructor(@Inject(AUDIT_LOG) private readonly sink: AuditRecorder | null) {}

  async record(entry: AuthAuditEntry): Promise<void> {
    if (this.sink) await this.sink.record(entry);
  }
}
