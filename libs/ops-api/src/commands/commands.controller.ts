import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import {
  type CommandListBody,
  commandListBody,
  type CommandRecordBody,
  commandRecordBody,
  type CommandRequestBody,
  commandRequestBody,
  type Principal,
} from '@ioc/contracts';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom, ApiQueriesFrom } from '../common/openapi-zod';
import { ScopeService } from '../common/scope.service';
import { integerParam } from '../common/time-params';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { CommandsService } from './commands.service';

const DEVICE_ID = ApiParam({ name: 'id', description: 'device id', schema: { type: 'string' } });

/** `GET /api/v1/devices/{id}/commands`: newest first. */
const commandListQuery = z.strictObject({
  limit: integerParam(1, 1000).default(100).describe('most commands in the answer'),
  offset: integerParam(0, 1_000_000).default(0).describe('commands skipped, newest first'),
});
type CommandListQuery = z.infer<typeof commandListQuery>;

/**
 * Commands to devices (DEVICE_COMMANDS in @ioc/contracts lists what each type takes): sent with
 * QoS 1 on the device's `command` topic, answered on its `command/ack` topic, recorded with their
 * state; every change is also pushed on `/live` as a `command` event.
 */
@ApiTags('commands')
@Controller('api/v1')
export class CommandsController {
  constructor(
    private readonly commands: CommandsService,
    private readonly audit: AuditTrail,
    private readonly scope: ScopeService,
  ) {}

  @Post('devices/:id/commands')
  @Roles('operator')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Sends a command to a device; the answer is the command record (state sent)',
    description:
      "The command and its params are checked against the device type's command contract (400 naming the command or the param). The device answers on ioc/v1/{domain}/{id}/command/ack; without an answer before timeoutSeconds (default 30) the command becomes timed-out. 409 for a suspended or retired device; 503 when the broker cannot be reached (the command is recorded as failed).",
  })
  @DEVICE_ID
  @ApiBodyFrom(commandRequestBody)
  @ApiAnswers({
    body: commandRecordBody,
    status: HttpStatus.ACCEPTED,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.FORBIDDEN,
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async send(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(commandRequestBody, 'field')) body: CommandRequestBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
    @CurrentPrincipal() principal: Principal,
  ): Promise<CommandRecordBody> {
    // An operator limited to a scope commands only the devices inside it (403 out-of-scope).
    this.scope.assertDevice(principal, id);
    const record = await this.commands.send(id, body, principal.name);
    await this.audit.record(request, {
      action: 'command.send',
      entity: { type: 'device', id },
      after: record,
      detail: { commandId: record.id, command: record.command },
    });
    return record;
  }

  @Get('devices/:id/commands')
  @ApiOperation({ summary: "The device's commands, newest first, with their state and the device's answer" })
  @DEVICE_ID
  @ApiQueriesFrom(commandListQuery)
  @ApiAnswers({
    body: commandListBody,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.FORBIDDEN,
      HttpStatus.NOT_FOUND,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async list(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(commandListQuery)) query: CommandListQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<CommandListBody> {
    this.scope.assertDevice(principal, id);
    return { items: await this.commands.list(id, query) };
  }

  @Get('commands/:commandId')
  @ApiOperation({ summary: 'One command, by the id the send answered' })
  @ApiParam({ name: 'commandId', description: 'command id (cmd_…)', schema: { type: 'string' } })
  @ApiAnswers({
    body: commandRecordBody,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.FORBIDDEN,
      HttpStatus.NOT_FOUND,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async get(
    @Param('commandId') commandId: string,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
  ): Promise<CommandRecordBody> {
    const record = await this.commands.get(commandId);
    // A command of a device outside the scope is that device's: 403 naming the device.
    this.scope.assertDevice(principal, record.deviceId);
    return record;
  }
}
