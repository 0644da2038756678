import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import type { RuleRecord } from '@ioc/alerting';
import {
  type Principal,
  type RuleBody,
  ruleBody,
  ruleDefinitionSchema,
  type RuleListBody,
  ruleListBody,
  type RuleDryRunBody,
  ruleDryRunBody,
  type RuleDryRunRequestBody,
  ruleDryRunRequestBody,
  type RuleVersionsBody,
  ruleVersionsBody,
} from '@ioc/contracts';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom, ApiQueriesFrom } from '../common/openapi-zod';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import {
  ruleUpdateQuery,
  type RuleUpdateQuery,
  ruleVersionQuery,
  type RuleVersionQuery,
  RULE_ID_DOC,
} from './alert-queries';
import { toRuleBody, toRuleVersionBody } from './alert-views';
import { AlertingService } from './alerting.service';
import { DryRunService } from './dry-run.service';

const RULE_ID = ApiParam({ name: 'id', description: 'rule id', schema: RULE_ID_DOC });
const READ_ERRORS = [
  HttpStatus.BAD_REQUEST,
  HttpStatus.FORBIDDEN,
  HttpStatus.NOT_FOUND,
  HttpStatus.SERVICE_UNAVAILABLE,
];
const WRITE_ERRORS = [...READ_ERRORS, HttpStatus.CONFLICT];

/**
 * The body of a rule write: any JSON object; the repository parses it with the contracts'
 * ruleDefinitionSchema and parseRule's checks (placeholders, metrics, events), so a refusal names
 * the field (`message.vi`, `metric`, `condition.value` …).
 */
const ruleWriteBody = z.record(z.string(), z.unknown());

/** The principal as the writer recorded with a rule version (an API key cannot write: operator role). */
const writer = (principal: Principal): string => principal.id;

/**
 * `/api/v1/rules`: alert rules, versioned and audited. Reads: any principal (rules its scope can
 * see). Writes: operators and admins (a scoped one only rules its scope bounds); each is a new
 * version, a registry change `rule` (the broker's engine applies it without a restart) and an
 * audit entry `rule.create|update|enable|disable|delete`.
 */
@ApiTags('alerts')
@Controller('api/v1/rules')
export class RulesController {
  constructor(
    private readonly alerting: AlertingService,
    private readonly audit: AuditTrail,
    private readonly dryRuns: DryRunService,
  ) {}

  @Post('dry-run')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary:
      'Which devices a rule covers and what it would have fired over a past window (≤ 7 days), from history',
    description:
      'Body: {rule, from, to}. The rule is checked as a write is (400 naming rule.<field>) and need not exist; nothing is stored. Only devices in your scope are covered and read. The oldest 20,000 points per device (500,000 in all) are used; truncated says when more existed.',
  })
  @ApiBodyFrom(ruleDryRunRequestBody)
  @ApiAnswers({ body: ruleDryRunBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.SERVICE_UNAVAILABLE] })
  dryRun(
    @Body(new ZodValidationPipe(ruleDryRunRequestBody, 'field')) body: RuleDryRunRequestBody,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RuleDryRunBody> {
    return this.dryRuns.run(principal, body.rule, Date.parse(body.from), Date.parse(body.to));
  }

  @Get()
  @ApiOperation({ summary: 'Alert rules (not deleted) the caller’s scope can see, by id' })
  @ApiAnswers({ body: ruleListBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.SERVICE_UNAVAILABLE] })
  async list(
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RuleListBody> {
    const records = await this.alerting.run((port) => port.rules.list());
    return {
      rules: records.filter((r) => this.alerting.ruleVisible(principal, r.definition)).map(toRuleBody),
    };
  }

  @Post()
  @Roles('operator')
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({
    summary: 'Creates a rule (version 1; a deleted id is revived with its next version)',
    description:
      'Body: a rule definition (kind threshold, areaAggregate, event, status or noData; see the schema). Refused with 400 naming the field: a schema violation, a message placeholder not in {device} {deviceId} {area} {areaId} {metric} {value} {unit} {limit} {window} {standard} {severity} {event} {silentFor}, a metric no device type (of the scope) reports, an unknown event.',
  })
  @ApiBodyFrom(ruleDefinitionSchema)
  @ApiAnswers({ body: ruleBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async create(
    @Body(new ZodValidationPipe(ruleWriteBody, 'field')) body: Record<string, unknown>,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<RuleBody> {
    this.checkScopeOf(principal, body);
    const created = await this.alerting.run((port) =>
      port.rules.create(body, writer(principal), this.alerting.ruleChecks),
    );
    await this.audit.record(request, {
      action: 'rule.create',
      entity: { type: 'rule', id: created.definition.id },
      after: created.definition,
    });
    await this.alerting.announce();
    return toRuleBody(created);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One rule' })
  @RULE_ID
  @ApiAnswers({ body: ruleBody, errors: READ_ERRORS })
  async get(
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RuleBody> {
    return toRuleBody(await this.visible(id, principal));
  }

  @Get(':id/versions')
  @ApiOperation({ summary: 'Every version of a rule, oldest first (deleted rules too)' })
  @RULE_ID
  @ApiAnswers({ body: ruleVersionsBody, errors: READ_ERRORS })
  async versions(
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RuleVersionsBody> {
    const versions = await this.alerting.run((port) => port.rules.versions(id));
    const latest = versions[versions.length - 1];
    if (latest && !this.alerting.ruleVisible(principal, latest.definition))
      this.alerting.assertRuleWithinScope(principal, latest.definition);
    return { ruleId: id, versions: versions.map(toRuleVersionBody) };
  }

  @Put(':id')
  @Roles('operator')
  @ApiOperation({
    summary:
      'Replaces a rule’s definition (version + 1); the required `version` (the one you edited) refuses a stale edit with 409',
  })
  @RULE_ID
  @ApiQueriesFrom(ruleUpdateQuery)
  @ApiBodyFrom(ruleDefinitionSchema)
  @ApiAnswers({ body: ruleBody, errors: WRITE_ERRORS })
  async update(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(ruleWriteBody, 'field')) body: Record<string, unknown>,
    @Query(new ZodValidationPipe(ruleUpdateQuery)) query: RuleUpdateQuery,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<RuleBody> {
    const before = await this.writable(id, principal);
    this.checkScopeOf(principal, body);
    const updated = await this.alerting.run((port) =>
      port.rules.update(id, body, writer(principal), query.version, this.alerting.ruleChecks),
    );
    await this.audit.record(request, {
      action: 'rule.update',
      entity: { type: 'rule', id },
      before: before.definition,
      after: updated.definition,
    });
    await this.alerting.announce();
    return toRuleBody(updated);
  }

  @Post(':id/enable')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Enables a rule (version + 1)' })
  @RULE_ID
  @ApiQueriesFrom(ruleVersionQuery)
  @ApiAnswers({ body: ruleBody, errors: WRITE_ERRORS })
  enable(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(ruleVersionQuery)) query: RuleVersionQuery,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<RuleBody> {
    return this.setEnabled(id, true, query, principal, request);
  }

  @Post(':id/disable')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Disables a rule (version + 1): its open alerts resolve (rule-changed)' })
  @RULE_ID
  @ApiQueriesFrom(ruleVersionQuery)
  @ApiAnswers({ body: ruleBody, errors: WRITE_ERRORS })
  disable(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(ruleVersionQuery)) query: RuleVersionQuery,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<RuleBody> {
    return this.setEnabled(id, false, query, principal, request);
  }

  @Delete(':id')
  @Roles('operator')
  @ApiOperation({
    summary: 'Deletes a rule (soft: its versions stay; its open alerts resolve, rule-deleted)',
  })
  @RULE_ID
  @ApiQueriesFrom(ruleVersionQuery)
  @ApiAnswers({ body: ruleBody, errors: WRITE_ERRORS })
  async delete(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(ruleVersionQuery)) query: RuleVersionQuery,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<RuleBody> {
    const before = await this.writable(id, principal);
    const deleted = await this.alerting.run((port) =>
      port.rules.delete(id, writer(principal), query.version),
    );
    await this.audit.record(request, {
      action: 'rule.delete',
      entity: { type: 'rule', id },
      before: before.definition,
    });
    await this.alerting.announce();
    return toRuleBody(deleted);
  }

  private async setEnabled(
    id: string,
    enabled: boolean,
    query: RuleVersionQuery,
    principal: Principal,
    request: AuthenticatedRequest,
  ): Promise<RuleBody> {
    await this.writable(id, principal);
    const changed = await this.alerting.run((port) =>
      port.rules.setEnabled(id, enabled, writer(principal), query.version),
    );
    await this.audit.record(request, {
      action: enabled ? 'rule.enable' : 'rule.disable',
      entity: { type: 'rule', id },
      after: { enabled, version: changed.version },
    });
    await this.alerting.announce();
    return toRuleBody(changed);
  }

  /** The rule, when the principal may see it. @throws 404 unknown; 403 outside the scope */
  private async visible(id: string, principal: Principal): Promise<RuleRecord> {
    const record = await this.alerting.run((port) => port.rules.get(id));
    if (!record) throw this.notFound(id);
    if (!this.alerting.ruleVisible(principal, record.definition))
      this.alerting.assertRuleWithinScope(principal, record.definition);
    return record;
  }

  /** The rule, when the principal may change it. @throws 404 unknown; 403 not bounded by the scope */
  private async writable(id: string, principal: Principal): Promise<RuleRecord> {
    const record = await this.alerting.run((port) => port.rules.get(id));
    if (!record) throw this.notFound(id);
    this.alerting.assertRuleWithinScope(principal, record.definition);
    return record;
  }

  /** A scoped principal's new definition must stay inside its scope (checked on the parsed scope, if it parses). */
  private checkScopeOf(principal: Principal, body: Record<string, unknown>): void {
    if (principal.scope === null) return;
    const parsed = ruleDefinitionSchema.safeParse(body);
    if (parsed.success) this.alerting.assertRuleWithinScope(principal, parsed.data);
  }

  private notFound(id: string): NotFoundException {
    return new NotFoundException({
      statusCode: 404,
      error: 'Not Found',
      message: `no rule "${id.slice(0, 64)}"`,
    });
  }
}
