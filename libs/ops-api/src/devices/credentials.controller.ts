import { Body, Controller, Delete, Get, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import {
  type CredentialListBody,
  credentialListBody,
  type IssuedCredentialBody,
  issuedCredentialBody,
  type RevokedCredentialsBody,
  revokedCredentialsBody,
} from '@ioc/contracts';
import { Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom } from '../common/openapi-zod';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { issueCredentialBody } from './device-bodies';
import { RegistryWrites } from './registry-writes.service';

const DEVICE_ID = ApiParam({ name: 'id', description: 'device id', schema: { type: 'string' } });
const ERRORS = [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.SERVICE_UNAVAILABLE];

/** A missing body (no Content-Type) is an empty one: every field of the issue body is optional. */
const issueBodyPipe = new ZodValidationPipe(issueCredentialBody, 'field');

/**
 * A device's credentials: secrets issued (shown once), rotated with a grace period, listed without
 * the secret, revoked. The device authenticates on MQTT with username = its id, password = secret.
 */
@ApiTags('devices')
@Roles('admin')
@Controller('api/v1/devices/:id/credentials')
export class CredentialsController {
  constructor(private readonly writes: RegistryWrites) {}

  @Post()
  @ApiOperation({
    summary: 'Issues a new secret (shown only in this answer); current ones stay valid for graceSeconds',
    description:
      'Rotation: the secrets the device already has stay valid graceSeconds more (default 3600, at most 30 days; 0 ends them now), so the device can switch over. Only an HMAC-SHA256 of the secret is stored. A retired device gets none (409).',
  })
  @DEVICE_ID
  @ApiBodyFrom(issueCredentialBody, 'optional: without a body every field takes its default', false)
  @ApiAnswers({
    body: issuedCredentialBody,
    status: HttpStatus.CREATED,
    errors: [...ERRORS, HttpStatus.CONFLICT],
  })
  issue(
    @Param('id') id: string,
    @Body() raw: unknown,
    @Query(NoParameters) _query: object,
  ): Promise<IssuedCredentialBody> {
    const body: z.infer<typeof issueCredentialBody> = issueBodyPipe.transform(raw ?? {});
    return this.writes.write((repository, key) =>
      repository.issueCredential(id, { key, graceMs: body.graceSeconds * 1000 }),
    );
  }

  @Get()
  @ApiOperation({ summary: "The device's credentials, revoked and expired ones included; never a secret" })
  @DEVICE_ID
  @ApiAnswers({ body: credentialListBody, errors: ERRORS })
  list(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<CredentialListBody> {
    return this.writes.read((repository) => repository.listCredentials(id));
  }

  @Delete()
  @ApiOperation({
    summary: 'Revokes every credential of the device: it is refused at once, its sessions end',
  })
  @DEVICE_ID
  @ApiAnswers({ body: revokedCredentialsBody, errors: ERRORS })
  async revokeAll(
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
  ): Promise<RevokedCredentialsBody> {
    return { revoked: await this.writes.write((repository) => repository.revokeCredentials(id)) };
  }

  @Delete(':credentialId')
  @ApiOperation({ summary: 'Revokes one credential of the device' })
  @DEVICE_ID
  @ApiParam({ name: 'credentialId', schema: { type: 'string' } })
  @ApiAnswers({ body: revokedCredentialsBody, errors: ERRORS })
  async revoke(
    @Param('id') id: string,
    @Param('credentialId') credentialId: string,
    @Query(NoParameters) _query: object,
  ): Promise<RevokedCredentialsBody> {
    return {
      revoked: await this.writes.write((repository) => repository.revokeCredentials(id, credentialId)),
    };
  }
}
