import type { AedesOptions } from 'aedes';
import type { Reading } from '@ioc/contracts';
import type { IngestPipeline } from '../ingest-pipeline';
import type { InternalClients } from './internal-clients';
import type { RejectionReporter } from './rejection-reporter';

export interface ReadingSink {
  accept(reading: Reading): void;
}

/**
 * Every device publish is validated here, before aedes acknowledges it (aedes writes the PUBACK
 * once this callback returns). A rejected message is still acknowledged — MQTT 3.1.1 has no
 * PUBACK reason codes — but it is reported on the device's `.../error` topic, counted, never
 * stored, and never retained; the connection stays up so the readings after it go on.
 */
export function createAuthorizePublish(deps: {
  pipeline: IngestPipeline;
  internal: InternalClients;
  sink: ReadingSink;
  rejections: RejectionReporter;
}): NonNullable<AedesOptions['authorizePublish']> {
  const { pipeline, internal, sink, rejections } = deps;
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
    if (outcome.ok) {
      sink.accept(outcome.reading);
    } else {
      packet.retain = false;
      rejections.report(
        client,
        packet.topic,
        outcome.deviceId && outcome.domain
          ? { deviceId: outcome.deviceId, domain: outcome.domain }
          : undefined,
        outcome.rejection,
      );
    }
    done(null);
  };
}
