import { Inject, Injectable } from '@nestjs/common';
import type { AuditEntryInput, AuditLog } from '@ioc/audit';
import { AUDIT_LOG } from '../tokens';

/**
 * Where the auth, account, agency and key routes and the guard write their audit entries: the
 * module options' `audit` (AuditLog) when the API has one, else nowhere. Entries are awaited, so
 * an answered change is an audited one (a failing audit log makes the answer a 500).
 */
@Injectable()
export class AuthAudit {
  constructor(@Inject(AUDIT_LOG) private readonly log: AuditLog | null) {}

  async record(entry: AuditEntryInput): Promise<void> {
    if (this.log) await this.log.record(entry);
  }
}
