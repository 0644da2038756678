import { connect, type Socket } from 'node:net';
import { connectPacket, DISCONNECT_PACKET, FrameReader, PACKET, subscribePacket } from './mqtt-wire';

/**
 * A subscriber that does nothing with what it gets: one raw MQTT connection subscribed to
 * `topic` at QoS 0, counting PUBLISH frames (no payload decoding). It makes the bare broker route
 * and deliver every message, as a broker with a consumer must, at the least cost on our side.
 */
export class NoopSubscriber {
  received = 0;
  private socket: Socket | undefined;

  async start(host: string, port: number, topic: string, clientId: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      this.socket = socket;
      let connected = false;
      const reader = new FrameReader((type, _flags, buf, start) => {
        if (type === PACKET.PUBLISH) this.received++;
        else if (type === PACKET.CONNACK) {
          if (buf[start + 1] !== 0) reject(new Error('subscriber refused'));
          else socket.write(subscribePacket(1, topic, 0));
        } else if (type === PACKET.SUBACK) {
          connected = true;
          resolve();
        }
      });
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      socket.once('error', (error) => {
        if (!connected) reject(error);
      });
      socket.once('connect', () => socket.write(connectPacket({ clientId })));
    });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end(DISCONNECT_PACKET);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 2000).unref();
    });
  }
}
