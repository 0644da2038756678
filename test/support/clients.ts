import { execFile } from 'node:child_process';
import { connectAsync, type MqttClient } from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import type { Reading } from '@ioc/contracts';

export async function mqttClient(url: string, clientId: string): Promise<MqttClient> {
  return connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000 });
}

/** Collects every message on the topics the client subscribes to. */
export function collectMessages(client: MqttClient): Array<{ topic: string; body: Record<string, unknown> }> {
  const messages: Array<{ topic: string; body: Record<string, unknown> }> = [];
  client.on('message', (topic, payload) => {
    messages.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
  });
  return messages;
}

export interface LiveClient {
  socket: Socket;
  readings: Reading[];
  subscribe(
    subscription: Record<string, unknown>,
  ): Promise<{ ok: boolean; rooms?: string[]; error?: string }>;
  close(): void;
}

export async function liveClient(httpUrl: string): Promise<LiveClient> {
  const socket = io(`${httpUrl}/live`, { transports: ['websocket'], reconnection: false });
  const readings: Reading[] = [];
  socket.on('reading', (reading: Reading) => readings.push(reading));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return {
    socket,
    readings,
    subscribe: (subscription) => socket.timeout(5000).emitWithAck('subscribe', subscription),
    close: () => socket.close(),
  };
}

/** Debian's mosquitto_pub: a second, independent MQTT implementation. */
export function mosquittoPub(port: number, topic: string, message: string, qos = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'mosquitto_pub',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-q',
        String(qos),
        '-i',
        `mosq-pub-${process.pid}`,
        '-t',
        topic,
        '-m',
        message,
      ],
      { timeout: 10_000 },
      (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve()),
    );
  });
}

/** Debian's mosquitto_sub, waiting for `count` messages on `topic`. */
export function mosquittoSub(
  port: number,
  topic: string,
  count: number,
  timeoutSeconds = 10,
): {
  ready: Promise<void>;
  messages: Promise<string[]>;
} {
  let child: ReturnType<typeof execFile> | undefined;
  const messages = new Promise<string[]>((resolve, reject) => {
    child = execFile(
      'mosquitto_sub',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-t',
        topic,
        '-C',
        String(count),
        '-W',
        String(timeoutSeconds),
        '-i',
        `mosq-sub-${process.pid}`,
      ],
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout.trim().split('\n')),
    );
  });
  // mosquitto_sub prints nothing once subscribed; give it a moment to connect and subscribe.
  const ready = new Promise<void>((resolve) => setTimeout(resolve, 500));
  void child;
  return { ready, messages };
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
