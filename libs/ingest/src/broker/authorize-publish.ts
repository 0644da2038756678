import type { AedesOptions } from 'aedes';
import type { Reading } from '@ioc/contracts';
import { SpoolFullError } from '@ioc/spool';
import type { Logger } from '@ioc/runtime';
import type { IngestPipeline } from '../ingest-pipeline';
import type { InternalClients } from './internal-clients';
import type { RejectionReporter } from './rejection-reporter';

/** Time a refusal's answer gets to reach the device before its connection is dropped. */
const ANSWER_GRACE_MS = 50;

export interface ReadingSink {
  /** Resolves once the reading is durable; rejects (SpoolFullError among others) if it cannot be kept. */
  accept(reading: Reading): Promise<void>;
}

/**
 * Every device publish is validated here, before aedes acknowledges it: aedes writes the PUBACK
 * (QoS 1) or PUBREC (QoS 2) only once this callback is called, so for QoS ≥ 1 the callback
 * waits until the reading is on disk in the spool — "acknowledged ⇒ kept". QoS 0 is called back
 * at once (at most once).
 *
 * A message that fails validation is still acknowledged — MQTT 3.1.1 has no PUBACK reason codes
 * — but it is reported on the device's `.../error` topic, counted, never stored and never
 * retained; the connection stays up so the readings after it go on. A valid reading the spool
 * cannot take (full, disk error) is NOT acknowledged: the client is disconnected
 * [MQTT-3.3.5-2] and its MQTT stack sends it again after reconnecting.
 */
export function createAuthorizePublish(deps: {
  pipeline: IngestPipeline;
  internal: InternalClients;
  sink: ReadingSink;
  rejections: RejectionReporter;
  logger: Logger;
}): NonNullable<AedesOptions['authorizePublish']> {
  const { pipeline, internal, sink, rejections, logger } = deps;
  return (client, packet, done) => {
    if (internal.isInternal(client)) return done(null);
    // `$…` topics are the broker's own ($SYS, $internal): a device publishing there is spoofing.
    if (packet.topic.startsWith('$')) {
      rejections.report(client, packet.topic, undefined, {
        reason: 'invalid-topic',
        detail: 'topics starting with "$" are reserved for the platform',
      });
      return done(new Error('reserved topic'));
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const outcome = pipeline.process(packet.topic, payload);
    // Each refused part (or the whole message) is counted and answered; the valid readings of a
    // partly refused message are kept.
    const device =
      outcome.deviceId && outcome.domain ? { deviceId: outcome.deviceId, domain: outcome.domain } : undefined;
    for (const rejection of outcome.rejections) rejections.report(client, packet.topic, device, rejection);
    if (!outcome.ok) {
      packet.retain = false;
      return done(null);
    }
    const { readings } = outcome;
    const reading = readings[0] as Reading;
    const acknowledgeNow = packet.qos === 0;
    // Acknowledged only once EVERY reading of the message is durable. Should one fail, the message
    // is not acknowledged and is sent again; the readings already kept then arrive twice, which the
    // stores' (device, metric, ts) identity absorbs.
    Promise.all(readings.map((r) => sink.accept(r))).then(
      () => {
        if (!acknowledgeNow) done(null);
      },
      (error: Error) => {
        const refuse = (): void => {
          // aedes destroys the socket on error, discarding writes still buffered: let the
          // answer leave first.
          if (!acknowledgeNow) setTimeout(() => done(error), ANSWER_GRACE_MS);
        };
        if (error instanceof SpoolFullError) {
          // Disconnect only after the answer is on its way, so the device learns why.
          const detail = `${error.message}; retry later`;
          rejections.report(client, packet.topic, reading, { reason: 'spool-full', detail }, refuse);
        } else {
          logger.error({ deviceId: reading.deviceId, err: error.message }, 'spool append failed');
          refuse();
        }
      },
    );
    if (acknowledgeNow) done(null);
  };
}
