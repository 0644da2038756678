import type { MqttClient } from 'mqtt';
import { deviceTopic, type Device } from '@ioc/contracts';

/** Readings of one traffic counter whose `intensity` is their sequence number, one per second. */
export function sequencedReading(
  device: Device,
  base: number,
  seq: number,
): { topic: string; payload: string } {
  return {
    topic: deviceTopic('traffic', device.id, 'telemetry'),
    payload: JSON.stringify({ ts: base + seq * 1000, seq, metrics: { intensity: seq } }),
  };
}

/**
 * Publishes readings `from`..`to-1` at QoS 1 with up to `window` in flight, recording each
 * sequence number whose PUBACK arrived. Stops early, without waiting for what is in flight,
 * when `shouldStop` says so or the connection closes.
 */
export async function publishSequence(options: {
  client: MqttClient;
  device: Device;
  base: number;
  from: number;
  to: number;
  window: number;
  acked: Set<number>;
  shouldStop?: () => boolean;
  pauseMs?: number;
}): Promise<void> {
  const { client, device, base, acked } = options;
  let next = options.from;
  let closed = !client.connected;
  const whenClosed = new Promise<void>((resolve) => {
    if (closed) resolve();
    client.once('close', () => {
      closed = true;
      resolve();
    });
  });
  const inFlight = new Set<Promise<void>>();
  while (next < options.to && !closed && !(options.shouldStop?.() ?? false)) {
    const seq = next++;
    const { topic, payload } = sequencedReading(device, base, seq);
    const publish = client.publishAsync(topic, payload, { qos: 1 }).then(
      () => void acked.add(seq),
      () => undefined,
    );
    const tracked = publish.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= options.window) await Promise.race([...inFlight, whenClosed]);
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
  }
  if (!closed) await Promise.race([Promise.all(inFlight), whenClosed]);
}
