import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Injectable,
  Param,
  ParseIntPipe,
  Patch,
  Post,
  Query,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { NotifyError } from '@ioc/alerting';
import {
  type CreateSubscriptionBody,
  createSubscriptionBody,
  type CreateWebhookEndpointBody,
  createWebhookEndpointBody,
  type DeliveryBody,
  deliveryBody,
  type DeliveryListBody,
  deliveryListBody,
  type DeliveryQuery,
  deliveryQuery,
  type PatchSubscriptionBody,
  patchSubscriptionBody,
  type Principal,
  type SubscriptionBody,
  subscriptionBody,
  type SubscriptionListBody,
  subscriptionListBody,
  type WebhookEndpointBody,
  webhookEndpointBody,
  type WebhookEndpointListBody,
  webhookEndpointListBody,
  type WebhookEndpointWithSecretBody,
  webhookEndpointWithSecretBody,
} from '@ioc/contracts';
import { subscriptionView } from '@ioc/alerting';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom, ApiQueriesFrom } from '../common/openapi-zod';
import { repositoryHttpError } from '../common/registry-errors';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import type { NotificationsPort } from '../notifications-port';
import { NOTIFICATIONS } from '../tokens';

const AGENCY = ApiParam({ name: 'agencyId', description: 'agency id', schema: { type: 'string' } });
const ID = ApiParam({ name: 'id', description: 'id', schema: { type: 'string' } });
const WRITE_ERRORS = [
  HttpStatus.BAD_REQUEST,
  HttpStatus.FORBIDDEN,
  HttpStatus.NOT_FOUND,
  HttpStatus.CONFLICT,
  HttpStatus.SERVICE_UNAVAILABLE,
];
const READ_ERRORS = [
  HttpStatus.BAD_REQUEST,
  HttpStatus.FORBIDDEN,
  HttpStatus.NOT_FOUND,
  HttpStatus.SERVICE_UNAVAILABLE,
];

/** Answer of a test ping. */
const pingBody = z.object({
  notificationId: z.string(),
  delivered: z.boolean(),
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  latencyMs: z.number().int(),
});

/**
 * Who may manage an agency's notifications: an admin, or an operator of that agency (an account
 * whose agency it is). Anybody else — another agency's people, API keys (viewers) — is refused
 * (403 `other-agency`, or the role check's 403), so an agency's people see only theirs.
 */
@Injectable()
export class NotificationsAccess {
  constructor(@Inject(NOTIFICATIONS) private readonly port: NotificationsPort | null) {}

  /** @throws 503 notifications-unavailable; 403 other-agency */
  for(principal: Principal, agencyId: string): NotificationsPort {
    if (this.port === null)
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        reason: 'notifications-unavailable',
        message: 'this API node has no registry database: notifications are unavailable',
      });
    if (principal.role !== 'admin' && principal.agencyId !== agencyId)
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        reason: 'other-agency',
        message: `only agency "${agencyId}"'s operators and admins manage its notifications`,
      });
    return this.port;
  }
}

/** Runs a repository call with NotifyError mapped to 400/404/409. */
async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof NotifyError) throw repositoryHttpError(error.code, error.message, error.field);
    throw error;
  }
}

/**
 * `/api/v1/agencies/{agencyId}/webhooks`: an agency's Standard Webhooks endpoints. The signing
 * secret (`whsec_…`) is answered once, by create and rotate-secret, and kept encrypted. URLs in
 * private, loopback or link-local ranges are refused (400 `url`) unless configuration allows them.
 * Every write is audited (`webhook.create`, `.rotate-secret`, `.enable`, `.disable`, `.delete`,
 * `.ping`), never with the secret.
 */
@ApiTags('notifications')
@Roles('operator')
@Controller('api/v1/agencies/:agencyId/webhooks')
export class WebhooksController {
  constructor(
    private readonly access: NotificationsAccess,
    private readonly audit: AuditTrail,
  ) {}

  @Get()
  @ApiOperation({ summary: "The agency's webhook endpoints (never their secrets)" })
  @AGENCY
  @ApiAnswers({ body: webhookEndpointListBody, errors: READ_ERRORS })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Query(NoParameters) _query: object,
  ): Promise<WebhookEndpointListBody> {
    const port = this.access.for(principal, agencyId);
    return { items: await port.parts.endpoints.list(agencyId) };
  }

  @Post()
  @ApiOperation({ summary: 'Creates a webhook endpoint; answers its signing secret, this once' })
  @AGENCY
  @ApiBodyFrom(createWebhookEndpointBody)
  @ApiAnswers({ body: webhookEndpointWithSecretBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Body(new ZodValidationPipe(createWebhookEndpointBody, 'field')) body: CreateWebhookEndpointBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<WebhookEndpointWithSecretBody> {
    const port = this.access.for(principal, agencyId);
    const { endpoint, secret } = await run(() => port.parts.endpoints.create(agencyId, body, principal.id));
    await this.audit.record(request, {
      action: 'webhook.create',
      entity: { type: 'webhook', id: endpoint.id },
      after: endpoint,
      detail: { agencyId },
    });
    return { ...endpoint, secret };
  }

  @Post(':id/rotate-secret')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Replaces the signing secret (the old one stops at once); answers the new one, this once',
  })
  @AGENCY
  @ID
  @ApiAnswers({ body: webhookEndpointWithSecretBody, errors: WRITE_ERRORS })
  async rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<WebhookEndpointWithSecretBody> {
    const port = this.access.for(principal, agencyId);
    const { endpoint, secret } = await run(() => port.parts.endpoints.rotateSecret(agencyId, id));
    await this.audit.record(request, {
      action: 'webhook.rotate-secret',
      entity: { type: 'webhook', id },
      detail: { agencyId },
    });
    return { ...endpoint, secret };
  }

  @Post(':id/enable')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Enables an endpoint (also one disabled by a 410 Gone); its URL is checked again',
  })
  @AGENCY
  @ID
  @ApiAnswers({ body: webhookEndpointBody, errors: WRITE_ERRORS })
  async enable(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<WebhookEndpointBody> {
    return this.setEnabled(principal, agencyId, id, true, request);
  }

  @Post(':id/disable')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Disables an endpoint: its deliveries wait until it is enabled again' })
  @AGENCY
  @ID
  @ApiAnswers({ body: webhookEndpointBody, errors: WRITE_ERRORS })
  async disable(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<WebhookEndpointBody> {
    return this.setEnabled(principal, agencyId, id, false, request);
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Deletes an endpoint: its undelivered deliveries are skipped, subscriptions stop naming it',
  })
  @AGENCY
  @ID
  @ApiAnswers({ body: webhookEndpointBody, errors: WRITE_ERRORS })
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<WebhookEndpointBody> {
    const port = this.access.for(principal, agencyId);
    const before = await run(() => port.parts.endpoints.delete(agencyId, id));
    await this.audit.record(request, {
      action: 'webhook.delete',
      entity: { type: 'webhook', id },
      before,
      detail: { agencyId },
    });
    return before;
  }

  @Post(':id/ping')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Sends a signed `ping` notification to the endpoint now (not queued) and answers what came back',
  })
  @AGENCY
  @ID
  @ApiAnswers({ body: pingBody, errors: WRITE_ERRORS })
  async ping(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<z.infer<typeof pingBody>> {
    const port = this.access.for(principal, agencyId);
    const outcome = await run(() => port.ping(agencyId, id));
    const answer = {
      notificationId: outcome.notificationId,
      delivered: outcome.error === null,
      statusCode: outcome.status,
      error: outcome.error,
      latencyMs: outcome.latencyMs,
    };
    await this.audit.record(request, {
      action: 'webhook.ping',
      outcome: answer.delivered ? 'success' : 'failure',
      entity: { type: 'webhook', id },
      detail: { agencyId, ...answer },
    });
    return answer;
  }

  private async setEnabled(
    principal: Principal,
    agencyId: string,
    id: string,
    enabled: boolean,
    request: AuthenticatedRequest,
  ): Promise<WebhookEndpointBody> {
    const port = this.access.for(principal, agencyId);
    const before = await run(() => port.parts.endpoints.get(agencyId, id));
    const after = await run(() => port.parts.endpoints.setEnabled(agencyId, id, enabled));
    await this.audit.record(request, {
      action: enabled ? 'webhook.enable' : 'webhook.disable',
      entity: { type: 'webhook', id },
      before,
      after,
      detail: { agencyId },
    });
    if (enabled) port.wake();
    return after;
  }
}

/** `/api/v1/agencies/{agencyId}/subscriptions`: what an agency hears, and on which channels. Audited. */
@ApiTags('notifications')
@Roles('operator')
@Controller('api/v1/agencies/:agencyId/subscriptions')
export class SubscriptionsController {
  constructor(
    private readonly access: NotificationsAccess,
    private readonly audit: AuditTrail,
  ) {}

  @Get()
  @ApiOperation({ summary: "The agency's subscriptions" })
  @AGENCY
  @ApiAnswers({ body: subscriptionListBody, errors: READ_ERRORS })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Query(NoParameters) _query: object,
  ): Promise<SubscriptionListBody> {
    const port = this.access.for(principal, agencyId);
    return { items: (await port.parts.subscriptions.list(agencyId)).map(subscriptionView) };
  }

  @Post()
  @ApiOperation({
    summary: 'Subscribes the agency to alerts inside its scope matching the filters',
    description:
      'Filters: domains, areaIds (subtrees), ruleIds, minSeverity (default warning); always intersected with the agency scope, and a domain or area that could never match inside it (or an unknown area) is a 400 naming filters.domains / filters.areaIds (also on PATCH). Channels: webhookEndpointIds of the same agency, mqtt. Policy: groupWaitSeconds (30), groupIntervalSeconds (300), repeatIntervalSeconds (14400).',
  })
  @AGENCY
  @ApiBodyFrom(createSubscriptionBody)
  @ApiAnswers({ body: subscriptionBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Body(new ZodValidationPipe(createSubscriptionBody, 'field')) body: CreateSubscriptionBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<SubscriptionBody> {
    const port = this.access.for(principal, agencyId);
    const after = subscriptionView(
      await run(() => port.parts.subscriptions.create(agencyId, body, principal.id)),
    );
    await this.audit.record(request, {
      action: 'subscription.create',
      entity: { type: 'subscription', id: after.id },
      after,
      detail: { agencyId },
    });
    return after;
  }

  @Get(':id')
  @ApiOperation({ summary: 'One subscription' })
  @AGENCY
  @ID
  @ApiAnswers({ body: subscriptionBody, errors: READ_ERRORS })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
  ): Promise<SubscriptionBody> {
    const port = this.access.for(principal, agencyId);
    return subscriptionView(await run(() => port.parts.subscriptions.get(agencyId, id)));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Changes a subscription (any field of the create body)' })
  @AGENCY
  @ID
  @ApiBodyFrom(patchSubscriptionBody)
  @ApiAnswers({ body: subscriptionBody, errors: WRITE_ERRORS })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(patchSubscriptionBody, 'field')) body: PatchSubscriptionBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<SubscriptionBody> {
    const port = this.access.for(principal, agencyId);
    const before = subscriptionView(await run(() => port.parts.subscriptions.get(agencyId, id)));
    const after = subscriptionView(await run(() => port.parts.subscriptions.update(agencyId, id, body)));
    await this.audit.record(request, {
      action: 'subscription.update',
      entity: { type: 'subscription', id },
      before,
      after,
      detail: { agencyId },
    });
    return after;
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Deletes a subscription (its notifications and deliveries stay in the log)' })
  @AGENCY
  @ID
  @ApiAnswers({ body: subscriptionBody, errors: WRITE_ERRORS })
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<SubscriptionBody> {
    const port = this.access.for(principal, agencyId);
    const before = subscriptionView(await run(() => port.parts.subscriptions.delete(agencyId, id)));
    await this.audit.record(request, {
      action: 'subscription.delete',
      entity: { type: 'subscription', id },
      before,
      detail: { agencyId },
    });
    return before;
  }
}

/** `/api/v1/agencies/{agencyId}/deliveries`: the delivery log (attempts, status codes, latency) and manual replay. */
@ApiTags('notifications')
@Roles('operator')
@Controller('api/v1/agencies/:agencyId/deliveries')
export class DeliveriesController {
  constructor(
    private readonly access: NotificationsAccess,
    private readonly audit: AuditTrail,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Deliveries of the agency, newest first, with their attempts (state=, endpoint=, limit=)',
  })
  @AGENCY
  @ApiQueriesFrom(deliveryQuery)
  @ApiAnswers({ body: deliveryListBody, errors: READ_ERRORS })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Query(new ZodValidationPipe(deliveryQuery)) query: DeliveryQuery,
  ): Promise<DeliveryListBody> {
    const port = this.access.for(principal, agencyId);
    return { items: await port.parts.outbox.list(agencyId, query) };
  }

  @Post(':id/replay')
  @ApiOperation({
    summary: 'Queues the delivery again as a new one: same notification, same webhook-id and body',
  })
  @AGENCY
  @ID
  @ApiAnswers({ body: deliveryBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async replay(
    @CurrentPrincipal() principal: Principal,
    @Param('agencyId') agencyId: string,
    @Param('id', ParseIntPipe) id: number,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<DeliveryBody> {
    const port = this.access.for(principal, agencyId);
    const replay = await run(() => port.parts.outbox.replay(agencyId, id));
    await this.audit.record(request, {
      action: 'delivery.replay',
      entity: { type: 'delivery', id: String(replay.id) },
      detail: { agencyId, replayOf: id, notificationId: replay.notificationId },
    });
    port.wake();
    return replay;
  }
}
