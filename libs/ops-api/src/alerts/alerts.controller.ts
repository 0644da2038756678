import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  type AlertActionBody,
  alertActionBody,
  type AlertBody,
  alertBody,
  type AlertDetailBody,
  alertDetailBody,
  type AlertListBody,
  alertListBody,
  type Principal,
} from '@ioc/contracts';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom, ApiQueriesFrom } from '../common/openapi-zod';
import { ScopeService } from '../common/scope.service';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import type { RegistryReader } from '../registry-port';
import { alertListQuery, type AlertListQuery } from './alert-queries';
import { alertsToCsv, toAlertBody, toTransitionBody } from './alert-views';
import { AlertingService } from './alerting.service';
import { DEVICE_REGISTRY } from '../tokens';

const ALERT_ID = ApiParam({ name: 'id', description: 'alert id (UUID)', schema: { type: 'string' } });
const READ_ERRORS = [
  HttpStatus.BAD_REQUEST,
  HttpStatus.FORBIDDEN,
  HttpStatus.NOT_FOUND,
  HttpStatus.SERVICE_UNAVAILABLE,
];

/**
 * `/api/v1/alerts`: open and past alerts inside the caller's scope, with their transitions, and
 * operators' acknowledgements and manual resolutions (optimistic concurrency: 409 when the alert
 * moved on), audited as `alert.acknowledge` and `alert.resolve`.
 */
@ApiTags('alerts')
@Controller('api/v1/alerts')
export class AlertsController {
  constructor(
    private readonly alerting: AlertingService,
    private readonly audit: AuditTrail,
    private readonly scope: ScopeService,
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Alerts in your scope, newest first (by pendingAt), filtered; format=csv for a spreadsheet',
    description:
      "Filters combine (AND); each list filter holds when any of its comma-separated values does: state, open (true: pending/firing/acknowledged; false: resolved), area (each with its sub-areas), domain, severity, ruleId, deviceId, from (inclusive) / to (exclusive) on timeField (pendingAt, firingAt or resolvedAt). A filter naming a domain, area or device outside your scope is a 403 out-of-scope. Pages of limit alerts (default 100, at most 1000); nextCursor fetches the next. CSV: UTF-8 with a byte-order mark, CRLF, one alert per row, ISO times; formula-like cells get a leading '.",
  })
  @ApiQueriesFrom(alertListQuery)
  @ApiAnswers({
    body: alertListBody,
    csv: true,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.FORBIDDEN, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async list(
    @Query(new ZodValidationPipe(alertListQuery)) query: AlertListQuery,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AlertListBody | string> {
    for (const domain of query.domain ?? []) this.scope.assertFilters(principal, { domain });
    for (const area of query.area ?? []) this.scope.assertFilters(principal, { area });
    for (const deviceId of query.deviceId ?? []) {
      if (this.registry.getDevice(deviceId)) this.scope.assertDevice(principal, deviceId);
    }
    const page = await this.alerting.run((port) =>
      port.alerts.list(
        {
          ...(query.state ? { states: query.state } : {}),
          ...(query.open === undefined ? {} : { open: query.open }),
          ...(query.area ? { areaIds: query.area } : {}),
          ...(query.domain ? { domains: query.domain } : {}),
          ...(query.severity ? { severities: query.severity } : {}),
          ...(query.ruleId ? { ruleIds: query.ruleId } : {}),
          ...(query.deviceId ? { deviceIds: query.deviceId } : {}),
          ...(query.from === undefined ? {} : { from: query.from }),
          ...(query.to === undefined ? {} : { to: query.to }),
          timeField: query.timeField,
          limit: query.limit,
          ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
        },
        principal.scope,
      ),
    );
    const alerts = page.items.map(toAlertBody);
    if (query.format === 'csv') {
      response.type('text/csv; charset=utf-8').attachment('alerts.csv');
      if (page.nextCursor !== null) response.setHeader('x-next-cursor', page.nextCursor);
      return alertsToCsv(alerts);
    }
    return { alerts, nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One alert with every transition (who, when, the value that caused it)' })
  @ALERT_ID
  @ApiAnswers({ body: alertDetailBody, errors: READ_ERRORS })
  async get(
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AlertDetailBody> {
    const found = await this.alerting.run((port) => port.alerts.get(id));
    if (!found) throw alertNotFound(id);
    this.alerting.assertAlert(principal, found.alert);
    const transitions = await this.alerting.run((port) => port.alerts.transitions(id));
    return { alert: toAlertBody(found), transitions: transitions.map(toTransitionBody) };
  }

  @Post(':id/acknowledge')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary:
      'Acknowledges a firing alert with a note (409: pending, already acknowledged or resolved, or `version` stale)',
  })
  @ALERT_ID
  @ApiBodyFrom(alertActionBody, undefined, false)
  @ApiAnswers({ body: alertBody, errors: [...READ_ERRORS, HttpStatus.CONFLICT] })
  acknowledge(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(alertActionBody, 'field')) body: AlertActionBody,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AlertBody> {
    return this.personStep('acknowledge', id, body, principal, request);
  }

  @Post(':id/resolve')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Resolves an open alert by hand with a note (409: already resolved, or `version` stale)',
  })
  @ALERT_ID
  @ApiBodyFrom(alertActionBody, undefined, false)
  @ApiAnswers({ body: alertBody, errors: [...READ_ERRORS, HttpStatus.CONFLICT] })
  resolve(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(alertActionBody, 'field')) body: AlertActionBody,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AlertBody> {
    return this.personStep('resolve', id, body, principal, request);
  }

  private async personStep(
    step: 'acknowledge' | 'resolve',
    id: string,
    body: AlertActionBody,
    principal: Principal,
    request: AuthenticatedRequest,
  ): Promise<AlertBody> {
    const found = await this.alerting.run((port) => port.alerts.get(id));
    if (!found) throw alertNotFound(id);
    this.alerting.assertAlert(principal, found.alert);
    const actor = { id: principal.id, name: principal.name };
    const note = body.note === undefined || body.note === '' ? null : body.note;
    const done = await this.alerting.run((port) => port.alerts[step](id, actor, note, body.version));
    await this.audit.record(request, {
      action: step === 'acknowledge' ? 'alert.acknowledge' : 'alert.resolve',
      entity: { type: 'alert', id },
      before: { state: found.alert.state, version: found.version },
      after: { state: done.alert.state, version: done.version },
      ...(note === null ? {} : { detail: { note } }),
    });
    await this.alerting.announce();
    this.alerting.pushLive({ alert: done.alert, transition: done.transition });
    return toAlertBody({ alert: done.alert, version: done.version });
  }
}

function alertNotFound(id: string): NotFoundException {
  return new NotFoundException({
    statusCode: 404,
    error: 'Not Found',
    message: `no alert "${id.slice(0, 64)}"`,
  });
}
