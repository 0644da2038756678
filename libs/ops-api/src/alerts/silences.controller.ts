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
  Query,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Silence } from '@ioc/alerting';
import {
  type CreateSilenceBody,
  createSilenceBody,
  type Principal,
  type SilenceBody,
  silenceBody,
  type SilenceListBody,
  silenceListBody,
  type SilenceMatchers,
} from '@ioc/contracts';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom, ApiQueriesFrom } from '../common/openapi-zod';
import { describeScope, outOfScope, ScopeService } from '../common/scope.service';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { silenceListQuery, type SilenceListQuery } from './alert-queries';
import { toSilenceBody } from './alert-views';
import { AlertingService } from './alerting.service';

const SILENCE_ID = ApiParam({ name: 'id', description: 'silence id (UUID)', schema: { type: 'string' } });

/**
 * `/api/v1/silences`: silences and maintenance windows, which hold back notifications of the
 * alerts they match (never evaluation). Operators create and end them (audited `silence.create`,
 * `silence.end`); a scoped operator's silence must be bounded by its scope (its domains and areas
 * as matchers, or devices of its scope), so it cannot mute another agency's alerts. Reads: the
 * silences a principal could have written.
 */
@ApiTags('alerts')
@Controller('api/v1/silences')
export class SilencesController {
  constructor(
    private readonly alerting: AlertingService,
    private readonly audit: AuditTrail,
    private readonly scope: ScopeService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Silences, newest start first (active=true: in force now)' })
  @ApiQueriesFrom(silenceListQuery)
  @ApiAnswers({ body: silenceListBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.SERVICE_UNAVAILABLE] })
  async list(
    @Query(new ZodValidationPipe(silenceListQuery)) query: SilenceListQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<SilenceListBody> {
    const silences = await this.alerting.run((port) =>
      port.silences.list(query.active === undefined ? {} : { active: query.active }),
    );
    const now = Date.now();
    return {
      silences: silences
        .filter((s) => this.outside(principal, s.matchers) === undefined)
        .map((s) => toSilenceBody(s, now)),
    };
  }

  @Post()
  @Roles('operator')
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({
    summary: 'Creates a silence or maintenance window (startsAt default now; at most 90 days)',
  })
  @ApiBodyFrom(createSilenceBody)
  @ApiAnswers({
    body: silenceBody,
    status: HttpStatus.CREATED,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.FORBIDDEN, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async create(
    @Body(new ZodValidationPipe(createSilenceBody, 'field')) body: CreateSilenceBody,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<SilenceBody> {
    const refusal = this.outside(principal, body.matchers);
    if (refusal) throw refusal;
    const created = await this.alerting.run((port) =>
      port.silences.create(
        {
          matchers: body.matchers,
          reason: body.reason,
          comment: body.comment,
          ...(body.startsAt === undefined ? {} : { startsAt: Date.parse(body.startsAt) }),
          endsAt: Date.parse(body.endsAt),
        },
        principal.id,
      ),
    );
    await this.audit.record(request, {
      action: 'silence.create',
      entity: { type: 'silence', id: created.id },
      after: created,
    });
    return toSilenceBody(created, Date.now());
  }

  @Delete(':id')
  @Roles('operator')
  @ApiOperation({ summary: 'Ends a silence now (409 when it has already ended)' })
  @SILENCE_ID
  @ApiAnswers({
    body: silenceBody,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.FORBIDDEN,
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async end(
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<SilenceBody> {
    const found: Silence | undefined = await this.alerting.run((port) => port.silences.get(id));
    if (!found) {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `no silence "${id.slice(0, 64)}"`,
      });
    }
    const refusal = this.outside(principal, found.matchers);
    if (refusal) throw refusal;
    const ended = await this.alerting.run((port) => port.silences.expire(id, principal.id));
    await this.audit.record(request, {
      action: 'silence.end',
      entity: { type: 'silence', id },
      before: { endsAt: new Date(found.endsAt).toISOString() },
      after: { endsAt: new Date(ended.endsAt).toISOString() },
    });
    return toSilenceBody(ended, Date.now());
  }

  /** Why matchers are not bounded by the principal's scope (a 403 to throw), or undefined. */
  private outside(principal: Principal, matchers: SilenceMatchers) {
    const scope = principal.scope;
    if (scope === null) return undefined;
    const why = (text: string) => `${text}; your scope is ${describeScope(scope)}`;
    if (matchers.deviceIds) {
      for (const id of matchers.deviceIds) {
        try {
          this.scope.assertDevice(principal, id);
        } catch {
          return outOfScope(
            { device: id },
            why(`the silence names device "${id}", unknown or outside your scope`),
          );
        }
      }
      return undefined;
    }
    if (scope.domains) {
      if (!matchers.domains)
        return outOfScope(
          { resource: 'silences' },
          why('the silence matches every domain: name yours (matchers.domains)'),
        );
      const other = matchers.domains.find((d) => !scope.domains?.includes(d));
      if (other) return outOfScope({ domain: other }, why(`the silence matches domain "${other}"`));
    }
    if (scope.areas) {
      if (!matchers.areaIds)
        return outOfScope(
          { resource: 'silences' },
          why('the silence matches every area: name yours (matchers.areaIds)'),
        );
      for (const area of matchers.areaIds) {
        try {
          this.scope.assertArea(principal, area);
        } catch {
          return outOfScope({ area }, why(`the silence matches area "${area}"`));
        }
      }
    }
    return undefined;
  }
}
