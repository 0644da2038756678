import { Controller, Get, HttpStatus, Inject, Query, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuditEntry, AuditLog } from '@ioc/audit';
import { Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiQueriesFrom } from '../common/openapi-zod';
import { UnscopedOnly } from '../common/scope.service';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { AUDIT_LOG } from '../tokens';
import {
  type AuditEntryBody,
  type AuditListBody,
  auditListBody,
  type AuditVerificationBody,
  auditVerificationBody,
} from './audit-bodies';
import {
  auditQueryParams,
  type AuditQueryParams,
  auditVerifyParams,
  type AuditVerifyParams,
} from './audit-params';

/** The audit log for admins: entries filtered and paged (JSON or CSV), and the chain's check. */
@ApiTags('audit')
@Roles('admin')
@UnscopedOnly('administration')
@Controller('api/v1/audit')
export class AuditController {
  constructor(@Inject(AUDIT_LOG) private readonly audit: AuditLog | null) {}

  @Get()
  @ApiOperation({
    summary: 'Audit entries, newest first, filtered by actor, action, entity, outcome and time (admin)',
    description:
      'Filters combine: actorId, action (exact, or a prefix ending in "." such as device.), entityType, entityId, outcome (success|failure|denied), from (inclusive) and to (exclusive), ISO-8601 with an offset or epoch ms. Pages of limit entries (default 100, at most 1000): a full page answers nextBefore, to pass as before for the next, older one. format=csv: the same page as CSV (UTF-8 with a byte-order mark, CRLF; columns seq, time, actorKind, actorId, actorName, action, outcome, entityType, entityId, before, after, detail, address, prevHash, hash; formula-like cells get a leading \'); `npm run audit -- export` writes everything. Secrets never appear: they are redacted before they are stored. An unknown parameter is refused with 400 naming it.',
  })
  @ApiQueriesFrom(auditQueryParams)
  @ApiAnswers({
    body: auditListBody,
    csv: true,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async list(
    @Query(new ZodValidationPipe(auditQueryParams)) params: AuditQueryParams,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AuditListBody | string> {
    const audit = this.port();
    const { format, limit, ...filter } = params;
    const entries = await audit.query({ ...filter, limit });
    if (format === 'csv') {
      response.type('text/csv; charset=utf-8').attachment('audit.csv');
      return audit.toCsv(entries);
    }
    const last = entries.at(-1);
    return {
      items: entries.map(entryBody),
      ...(entries.length === limit && last !== undefined ? { nextBefore: last.seq } : {}),
    };
  }

  @Get('verify')
  @ApiOperation({
    summary:
      "Checks the audit log's hash chain and answers its head, or the first entry that breaks it (admin)",
    description:
      'Reads every entry from `from` (default 1) in pages: each seq must follow the previous one, name its hash, and hash to its own. ok=false names brokenAt and the problem (hash-mismatch: the entry was edited; prev-hash-mismatch: the entry before it was rewritten; missing-entry: it was removed). Removing the newest entries, or rewriting every entry from one on, leaves a chain that holds in itself: record the head somewhere else and pass it later as head=<seq>:<hash>. Same check as `npm run audit -- verify`.',
  })
  @ApiQueriesFrom(auditVerifyParams)
  @ApiAnswers({
    body: auditVerificationBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.SERVICE_UNAVAILABLE],
  })
  verify(
    @Query(new ZodValidationPipe(auditVerifyParams)) params: AuditVerifyParams,
  ): Promise<AuditVerificationBody> {
    return this.port().verify({
      ...(params.from === undefined ? {} : { from: params.from }),
      ...(params.head === undefined ? {} : { knownHead: params.head }),
    });
  }

  /** @throws 503 `audit-unavailable` when the API has no audit log */
  private port(): AuditLog {
    if (this.audit === null) {
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        reason: 'audit-unavailable',
        message: 'this API node has no registry database: the audit log is unavailable',
      });
    }
    return this.audit;
  }
}

function entryBody(entry: AuditEntry): AuditEntryBody {
  const { seq, ts, ...rest } = entry;
  return { seq, time: new Date(ts).toISOString(), ...rest };
}
