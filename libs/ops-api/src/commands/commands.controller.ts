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
} from '@ioc/contracts';
import { Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom, ApiQueriesFrom } from '../common/openapi-zod';
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
  constructor(private readonly commands: CommandsService) {}

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
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  send(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(commandRequestBody, 'field')) body: CommandRequestBody,
    @Query(NoParameters) _query: object,
  ): Promise<CommandRecordBody> {
    return this.commands.send(id, body);
  }

  @Get('devices/:id/commands')
  @ApiOperation({ summary: "The device's commands, newest first, with their state and the device's answer" })
  @DEVICE_ID
  @ApiQueriesFrom(commandListQuery)
  @ApiAnswers({
    body: commandListBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async list(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(commandListQuery)) query: CommandListQuery,
  ): Promise<CommandListBody> {
    return { items: await this.commands.list(id, query) };
  }

  @Get('commands/:commandId')
  @ApiOperation({ summary: 'One command, by the id the send answered' })
  @ApiParam({ name: 'commandId', description: 'command id (cmd_…)', schema: { type: 'string' } })
  @ApiAnswers({
    body: commandRecordBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.SERVICE_UNAVAILABLE],
  })
  get(
    @Param('commandId') commandId: string,
    @Query(NoParameters) _query: object,
  ): Promise<CommandRecordBody> {
    return this.commands.get(commandId);
  }
}
