import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditTrail } from './audit-trail.service';

/**
 * The audit log: `GET /api/v1/audit` and `/api/v1/audit/verify` (admins), and AuditTrail, which
 * the modules with audited actions import to record them.
 */
@Module({ controllers: [AuditController], providers: [AuditTrail], exports: [AuditTrail] })
export class AuditModule {}
