import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  type AgencyBody,
  agencyBody,
  type AgencyListBody,
  agencyListBody,
  type AgencyMqttCredentialsBody,
  agencyMqttCredentialsBody,
  type ApiKeyBody,
  apiKeyBody,
  type ApiKeyListBody,
  apiKeyListBody,
  type CreateAgencyBody,
  createAgencyBody,
  type IssueApiKeyBody,
  issueApiKeyBody,
  type IssuedApiKeyBody,
  issuedApiKeyBody,
  type PatchAgencyBody,
  patchAgencyBody,
  type Principal,
} from '@ioc/contracts';
import { ModuleRef } from '@nestjs/core';
import type { AccessPort } from '../access-port';
import { RegistryWrites } from '../devices/registry-writes.service';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom } from '../common/openapi-zod';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { UnscopedOnly } from '../common/scope.service';
import type { RegistryProvisioning } from '../registry-port';
import { ACCESS, REGISTRY_PROVISIONING } from '../tokens';
import { accessWrite, credentialKeyUnavailable } from './access-errors';
import { agencyView, apiKeyView } from './access-views';
import { AuthEvents } from './auth-events';

const AGENCY_ID = ApiParam({ name: 'id', description: 'agency id', schema: { type: 'string' } });
const WRITE_ERRORS = [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.CONFLICT];

/** The MQTT username of an agency's account on the broker (':' never appears in a device id). */
export function agencyMqttUsername(agencyId: string): string {
  return `agency:${agencyId}`;
}

/**
 * `/api/v1/agencies` (admin): agencies and what they may read (a scope: domains × area subtrees),
 * their MQTT account's secret, and their API keys (shown once, stored hashed, listed by prefix,
 * revoked at once).
 */
@ApiTags('agencies')
@Roles('admin')
@UnscopedOnly('administration')
@Controller('api/v1/agencies')
export class AgenciesController {
  constructor(
    @Inject(ACCESS) private readonly access: AccessPort,
    @Inject(REGISTRY_PROVISIONING) private readonly provisioning: RegistryProvisioning | null,
    private readonly events: AuthEvents,
    private readonly audit: AuditTrail,
    private readonly modules: ModuleRef,
  ) {}

  /**
   * Brokers learn agencies' MQTT accounts from the registry change log: refresh this node, announce
   * the change and wait (≤ 3 s) until every broker applied it, as device-credential writes do, so a
   * disabled agency or a replaced secret is refused from the answer on. Looked up at call time:
   * the devices module (RegistryWrites) builds on the live module, which builds on this one.
   */
  private async brokersApply(): Promise<void> {
    if (!this.provisioning) return;
    await this.modules.get(RegistryWrites, { strict: false }).announce();
  }

  @Get()
  @ApiOperation({ summary: 'Every agency with its scope and state' })
  @ApiAnswers({ body: agencyListBody, errors: [HttpStatus.BAD_REQUEST] })
  async list(@Query(NoParameters) _query: object): Promise<AgencyListBody> {
    return { items: (await this.access.agencies.list()).map(agencyView) };
  }

  @Post()
  @ApiOperation({
    summary: 'Creates an agency with its scope',
    description:
      'id: a lower-case slug (so-nnmt). scope: {domains?, areas?} — its keys and users read only devices of those domains in those area subtrees (an absent list: every one).',
  })
  @ApiBodyFrom(createAgencyBody)
  @ApiAnswers({ body: agencyBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodValidationPipe(createAgencyBody, 'field')) body: CreateAgencyBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AgencyBody> {
    const agency = agencyView(await accessWrite(() => this.access.agencies.create(body)));
    await this.audit.record(request, {
      actor: principal,
      action: 'agency.create',
      entity: { type: 'agency', id: agency.id },
      after: agency,
    });
    return agency;
  }

  @Get(':id')
  @ApiOperation({ summary: 'One agency' })
  @AGENCY_ID
  @ApiAnswers({ body: agencyBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  async get(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<AgencyBody> {
    return agencyView(await this.found(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: "Changes an agency's name, scope or note (null clears the note)",
    description:
      "A new scope applies to its keys' and users' next request, and to their live sockets within seconds.",
  })
  @AGENCY_ID
  @ApiBodyFrom(patchAgencyBody)
  @ApiAnswers({ body: agencyBody, errors: WRITE_ERRORS })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(patchAgencyBody, 'field')) body: PatchAgencyBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AgencyBody> {
    const before = agencyView(await this.found(id));
    const after = agencyView(await accessWrite(() => this.access.agencies.update(id, body)));
    await this.audit.record(request, {
      actor: principal,
      action: 'agency.update',
      entity: { type: 'agency', id },
      before,
      after,
    });
    return after;
  }

  @Post(':id/disable')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Disables an agency: its keys, its users and its MQTT account are refused (until enabled again)',
  })
  @AGENCY_ID
  @ApiAnswers({ body: agencyBody, errors: WRITE_ERRORS })
  async disable(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AgencyBody> {
    const before = agencyView(await this.found(id));
    const after = agencyView(await accessWrite(() => this.access.agencies.disable(id)));
    this.events.publish({ kind: 'agency', agencyId: id, reason: 'agency-disabled' });
    await this.brokersApply();
    await this.audit.record(request, {
      actor: principal,
      action: 'agency.disable',
      entity: { type: 'agency', id },
      before,
      after,
    });
    return after;
  }

  @Post(':id/enable')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Enables a disabled agency: its unrevoked keys and its users work again' })
  @AGENCY_ID
  @ApiAnswers({ body: agencyBody, errors: WRITE_ERRORS })
  async enable(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AgencyBody> {
    const before = agencyView(await this.found(id));
    const after = agencyView(await accessWrite(() => this.access.agencies.enable(id)));
    await this.brokersApply();
    await this.audit.record(request, {
      actor: principal,
      action: 'agency.enable',
      entity: { type: 'agency', id },
      before,
      after,
    });
    return after;
  }

  @Post(':id/mqtt-credentials')
  @ApiOperation({
    summary: "Issues the agency's MQTT secret (shown only in this answer), replacing any earlier one",
    description:
      'The agency logs in to the broker with username agency:{id} and this secret, and may only subscribe to its own alert topics. Only an HMAC-SHA256 of the secret is stored.',
  })
  @AGENCY_ID
  @ApiAnswers({
    body: agencyMqttCredentialsBody,
    status: HttpStatus.CREATED,
    errors: [...WRITE_ERRORS, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async issueMqttSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AgencyMqttCredentialsBody> {
    if (!this.provisioning) throw credentialKeyUnavailable();
    const key = this.provisioning.credentialKey;
    await this.found(id);
    const { secret, hint } = await accessWrite(() => this.access.agencies.issueMqttSecret(id, key));
    await this.brokersApply();
    await this.audit.record(request, {
      actor: principal,
      action: 'agency.mqtt-secret',
      entity: { type: 'agency', id },
      detail: { hint },
    });
    return { username: agencyMqttUsername(id), secret, hint };
  }

  @Post(':id/keys')
  @ApiOperation({
    summary: 'Issues an API key to the agency (shown only in this answer)',
    description:
      "The key reads as role viewer within the agency's scope; send it as `X-API-Key: …` or `Authorization: Bearer …`, or as `auth.token` of a /live socket. Stored as a SHA-256 hash; its prefix (iocak_ + 8 hex digits) tells keys apart. expiresAt: optional.",
  })
  @AGENCY_ID
  @ApiBodyFrom(issueApiKeyBody)
  @ApiAnswers({ body: issuedApiKeyBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async issueKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(issueApiKeyBody, 'field')) body: IssueApiKeyBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<IssuedApiKeyBody> {
    await this.found(id);
    const { record, key } = await accessWrite(() =>
      this.access.apiKeys.issue({
        agencyId: id,
        name: body.name,
        ...(body.expiresAt === undefined ? {} : { expiresAt: body.expiresAt }),
        ...(principal.kind === 'account' ? { createdBy: principal.id } : {}),
      }),
    );
    const apiKey = apiKeyView(record);
    await this.audit.record(request, {
      actor: principal,
      action: 'apiKey.issue',
      entity: { type: 'apiKey', id: record.id },
      after: apiKey,
    });
    return { apiKey, key };
  }

  @Get(':id/keys')
  @ApiOperation({ summary: "The agency's API keys, revoked and expired ones included; never a key" })
  @AGENCY_ID
  @ApiAnswers({ body: apiKeyListBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  async listKeys(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<ApiKeyListBody> {
    await this.found(id);
    return { items: (await this.access.apiKeys.list(id)).map((key) => apiKeyView(key)) };
  }

  @Delete(':id/keys/:keyId')
  @ApiOperation({ summary: 'Revokes an API key: refused from the next request on, its live sockets end' })
  @AGENCY_ID
  @ApiParam({ name: 'keyId', schema: { type: 'string' } })
  @ApiAnswers({ body: apiKeyBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  async revokeKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Param('keyId') keyId: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<ApiKeyBody> {
    const before = await this.access.apiKeys.get(keyId);
    if (!before || before.agencyId !== id) {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `agency "${id.slice(0, 64)}" has no API key "${keyId.slice(0, 64)}"`,
      });
    }
    const after = apiKeyView(await accessWrite(() => this.access.apiKeys.revoke(keyId)));
    this.events.publish({ kind: 'apiKey', keyId, reason: 'api-key-revoked' });
    await this.audit.record(request, {
      actor: principal,
      action: 'apiKey.revoke',
      entity: { type: 'apiKey', id: keyId },
      before: apiKeyView(before),
      after,
    });
    return after;
  }

  private async found(id: string) {
    const agency = await this.access.agencies.get(id);
    if (!agency) {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `no agency "${id.slice(0, 64)}"`,
      });
    }
    return agency;
  }
}
