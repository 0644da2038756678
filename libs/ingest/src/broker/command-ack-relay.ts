import type { Aedes } from 'aedes';
import { type CommandAckNotice, INTERNAL_COMMAND_ACKS_TOPIC } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { CommandAckSink } from './authorize-publish';

/**
 * Relays devices' valid command acks to platform services: each one, as a `CommandAckNotice`
 * (libs/contracts internal-bus.ts), on INTERNAL_COMMAND_ACKS_TOPIC with QoS 1, not retained. The
 * device's own packet is diverted to DISCARD_TOPIC by authorizePublish like every device publish,
 * so only this notice — built from the validated ack, never the device's bytes — reaches anyone.
 *
 * An ack is not a reading: it is not spooled. A command service that is not connected misses it
 * (internal sessions are clean) and times the command out instead.
 */
export function createCommandAckRelay(broker: () => Aedes | undefined, logger: Logger): CommandAckSink {
  return {
    relay(notice: CommandAckNotice, relayed: () => void): void {
      const current = broker();
      if (!current) return relayed();
      current.publish(
        {
          cmd: 'publish',
          topic: INTERNAL_COMMAND_ACKS_TOPIC,
          payload: Buffer.from(JSON.stringify(notice)),
          qos: 1,
          retain: false,
          dup: false,
        },
        (error) => {
          if (error) logger.error({ err: error, deviceId: notice.deviceId }, 'command ack relay failed');
          relayed();
        },
      );
    },
  };
}
