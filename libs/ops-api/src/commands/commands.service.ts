import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  type OnModuleDestroy,
  type OnModuleInit,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import {
  type CommandAckNotice,
  type CommandRecordBody,
  type CommandRequestBody,
  newCommandId,
  validateCommand,
} from '@ioc/contracts';
import { DatabaseTaskLog } from '@ioc/database';
import type { CommandRepository } from '@ioc/registry';
import type { Logger } from '@ioc/runtime';
import { InternalBusRepository } from '../live/internal-bus.repository';
import type { RegistryReader } from '../registry-port';
import { COMMANDS, DEVICE_REGISTRY, LOGGER } from '../tokens';
import { deviceNotFound } from '../common/not-found';

/** How often this node marks commands past their deadline as timed out (ms). */
export const COMMAND_SWEEP_MS = 1000;

/**
 * Commands to devices: validated against the device type's contract (DEVICE_COMMANDS), recorded,
 * published on the device's `command` topic with QoS 1, then answered by the device's ack
 * (relayed by the broker) or timed out. Every change is pushed live (`command` event). State
 * changes are conditional updates in the database (CommandRepository), so with several API nodes
 * each ack and each timeout is recorded once, by whichever node gets there first.
 */
@Injectable()
export class CommandsService implements OnModuleInit, OnModuleDestroy {
  private subscription: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** The sweep's failures: a database outage logged once (and its end), not every COMMAND_SWEEP_MS. */
  private readonly sweepLog: DatabaseTaskLog;

  constructor(
    @Inject(COMMANDS) private readonly commands: CommandRepository | null,
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    private readonly bus: InternalBusRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.sweepLog = new DatabaseTaskLog(logger, 'command timeout sweep');
  }

  onModuleInit(): void {
    if (this.commands === null) return;
    this.subscription = this.bus.commandAcks$.subscribe((notice) => void this.acknowledge(notice));
    this.sweeper = setInterval(() => void this.sweep(), COMMAND_SWEEP_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    clearInterval(this.sweeper);
  }

  /**
   * Sends a command to a device.
   * @throws 404 unknown device; 409 a suspended or retired device; 400 a command or params its
   *   type refuses (`parameter` names `command` or the param path); 503 no database, or the
   *   broker unreachable (the command is then recorded as failed)
   */
  async send(
    deviceId: string,
    request: CommandRequestBody,
    requestedBy?: string,
  ): Promise<CommandRecordBody> {
    const commands = this.repository();
    const device = this.registry.getDevice(deviceId);
    if (!device) throw deviceNotFound(deviceId);
    const state = device.state ?? 'active';
    if (state !== 'active') {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `device "${deviceId}" is ${state}: it takes no commands`,
        parameter: 'state',
      });
    }
    const checked = validateCommand(device.type, request.command, request.params);
    if (!checked.ok) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: checked.detail,
        parameter: checked.reason === 'unknown-command' ? 'command' : checked.path,
      });
    }
    const now = Date.now();
    const deadline = now + request.timeoutSeconds * 1000;
    const record = await commands.create({
      id: newCommandId(),
      deviceId,
      command: checked.command,
      params: checked.params as Record<string, unknown>,
      ...(requestedBy === undefined ? {} : { requestedBy }),
      createdAt: now,
      deadline,
    });
    try {
      await this.bus.publishCommand(
        { domain: device.domain, id: device.id, type: device.type },
        { id: record.id, command: record.command, params: record.params, issuedAt: now, expiresAt: deadline },
      );
    } catch (error) {
      const failed = await commands.fail(
        record.id,
        `not confirmed by the broker: ${(error as Error).message}`,
        Date.now(),
      );
      if (failed) this.bus.commandUpdates$.next(failed);
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        message: `the command could not be sent to the broker: ${(error as Error).message}`,
        reason: 'broker-unavailable',
      });
    }
    this.logger.info({ deviceId, commandId: record.id, command: record.command }, 'command sent');
    this.bus.commandUpdates$.next(record);
    return record;
  }

  async get(commandId: string): Promise<CommandRecordBody> {
    const record = await this.repository().get(commandId);
    if (!record) {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `No command "${commandId.slice(0, 80)}"`,
      });
    }
    return record;
  }

  async list(deviceId: string, page: { limit: number; offset: number }): Promise<CommandRecordBody[]> {
    const commands = this.repository();
    if (!this.registry.getDevice(deviceId)) {
      throw deviceNotFound(deviceId);
    }
    return commands.listForDevice(deviceId, page);
  }

  /** Records a device's acknowledgement (once; an ack for another device's command is ignored). */
  async acknowledge(notice: CommandAckNotice): Promise<void> {
    const commands = this.commands;
    if (commands === null) return;
    try {
      const record = await commands.acknowledge({
        id: notice.commandId,
        deviceId: notice.deviceId,
        outcome: notice.outcome,
        ...(notice.detail === undefined ? {} : { detail: notice.detail }),
        at: notice.receivedAt,
      });
      if (!record) {
        // Say why: a repeated ack is routine; an ack naming another device's command or an
        // unknown one is a device misbehaving (or forging), which operators want to see.
        const existing = await commands.get(notice.commandId);
        const context = { deviceId: notice.deviceId, commandId: notice.commandId.slice(0, 80) };
        if (existing === undefined) this.logger.warn(context, 'ack of an unknown command ignored');
        else if (existing.deviceId !== notice.deviceId)
          this.logger.warn(
            { ...context, commandDeviceId: existing.deviceId },
            "ack of another device's command ignored",
          );
        else this.logger.debug(context, 'repeated ack ignored (the command was already answered)');
        return;
      }
      this.logger.info(
        {
          deviceId: record.deviceId,
          commandId: record.id,
          outcome: record.outcome,
          late: record.late === true,
        },
        'command acknowledged',
      );
      this.bus.commandUpdates$.next(record);
    } catch (error) {
      this.logger.error({ err: error, commandId: notice.commandId }, 'command acknowledgement not recorded');
    }
  }

  /** Marks the commands past their deadline as timed out (this node's share of them). */
  async sweep(now = Date.now()): Promise<void> {
    const commands = this.commands;
    if (commands === null || this.sweeping) return;
    this.sweeping = true;
    try {
      for (const record of await commands.expire(now)) {
        this.logger.warn({ deviceId: record.deviceId, commandId: record.id }, 'command timed out');
        this.bus.commandUpdates$.next(record);
      }
      this.sweepLog.succeeded();
    } catch (error) {
      this.sweepLog.failed(error, 'command timeout sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private repository(): CommandRepository {
    if (this.commands === null) {
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'this API runs without the registry database: commands are unavailable',
        reason: 'registry-unavailable',
      });
    }
    return this.commands;
  }
}
