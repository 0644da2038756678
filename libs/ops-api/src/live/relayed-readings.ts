import { INTERNAL_READINGS_TOPIC, type Reading } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';

/**
 * One batch of readings relayed by the broker, decoded on first use: with no live client
 * listening, the API does not parse the ~30 000 readings a second a busy broker relays.
 */
export class RelayedReadings {
  private decoded: Reading[] | undefined;

  constructor(
    private readonly json: Buffer,
    private readonly logger: Logger,
  ) {}

  get readings(): Reading[] {
    if (this.decoded === undefined) {
      try {
        const body: unknown = JSON.parse(this.json.toString('utf8'));
        if (!Array.isArray(body)) throw new Error('not an array of readings');
        this.decoded = body as Reading[];
      } catch (error) {
        this.logger.error({ err: error, topic: INTERNAL_READINGS_TOPIC }, 'unreadable internal message');
        this.decoded = [];
      }
    }
    return this.decoded;
  }
}
