import { execFile } from 'node:child_process';
import { connectAsync, type MqttClient } from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import type { Reading } from '@ioc/contracts';
import type { ApiSession } from '@ioc/testing';

/** MQTT login of a device: username = device id, password = its secret. */
export interface DeviceLogin {
  username: string;
  password: string;
}

export async function mqttClient(url: string, clientId: string, login?: DeviceLogin): Promise<MqttClient> {
  return connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000, ...login });
}

/**
 * Publishes as real devices do: one connection per device, logged in with that device's secret,
 * opened on first use. `publishAsync(topic, …)` goes out on the connection of the device the topic
 * names (or of `as`, to publish on a topic that is not the publisher's own).
 */
export class DeviceClients {
  private readonly clients = new Map<string, Promise<MqttClient>>();

  constructor(
    private readonly url: string,
    private readonly secretOf: (deviceId: string) => string,
    private readonly tag = `e2e-${process.pid}`,
  ) {}

  /** The connection of `deviceId` (client id `{deviceId}-{tag}`). */
  client(deviceId: string): Promise<MqttClient> {
    let client = this.clients.get(deviceId);
    if (!client) {
      client = mqttClient(this.url, `${deviceId}-${this.tag}`, {
        username: deviceId,
        password: this.secretOf(deviceId),
      });
      this.clients.set(deviceId, client);
    }
    return client;
  }

  async publishAsync(
    topic: string,
    payload: string | Buffer,
    options: { qos: 0 | 1 | 2; retain?: boolean } = { qos: 1 },
    as?: string,
  ): Promise<void> {
    const deviceId = as ?? topic.split('/')[3] ?? '';
    await (await this.client(deviceId)).publishAsync(topic, payload, options);
  }

  async endAll(): Promise<void> {
    const clients = await Promise.allSettled([...this.clients.values()]);
    this.clients.clear();
    await Promise.all(clients.map((c) => (c.status === 'fulfilled' ? c.value.endAsync() : undefined)));
  }
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
  /**
   * Resolves with the first reading received from now on that matches `predicate` (or one already
   * received), undefined if none came within `timeoutMs` — a deadline, not a pause: it returns as
   * soon as the reading arrives.
   */
  readingWhere(predicate: (reading: Reading) => boolean, timeoutMs: number): Promise<Reading | undefined>;
  close(): void;
}

/** A socket on `/live` authenticated with `session`'s access token. */
export async function liveClient(
  httpUrl: string,
  session: Pick<ApiSession, 'accessToken'>,
): Promise<LiveClient> {
  const socket = io(`${httpUrl}/live`, {
    transports: ['websocket'],
    reconnection: false,
    auth: { token: session.accessToken },
  });
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
    readingWhere: (predicate, timeoutMs) => {
      const already = readings.find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => {
        const onReading = (reading: Reading): void => {
          if (!predicate(reading)) return;
          clearTimeout(timer);
          socket.off('reading', onReading);
          resolve(reading);
        };
        const timer = setTimeout(() => {
          socket.off('reading', onReading);
          resolve(undefined);
        }, timeoutMs);
        socket.on('reading', onReading);
      });
    },
    close: () => socket.close(),
  };
}

/** Debian's mosquitto_pub: a second, independent MQTT implementation. */
export function mosquittoPub(
  port: number,
  topic: string,
  message: string,
  qos = 1,
  login?: DeviceLogin,
): Promise<void> {
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
        ...(login ? ['-u', login.username, '-P', login.password] : []),
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

/**
 * Debian's mosquitto_sub, waiting for `count` messages on `topic`. `ready` resolves once the
 * broker has answered the SUBSCRIBE (mosquitto_sub's debug output reports the SUBACK), so nothing
 * published after it is missed.
 */
export function mosquittoSub(
  port: number,
  topic: string,
  count: number,
  timeoutSeconds = 10,
  login?: DeviceLogin,
): {
  ready: Promise<void>;
  messages: Promise<string[]>;
} {
  let subscribed: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  const messages = new Promise<string[]>((resolve, reject) => {
    // stdbuf -oL: line-buffered stdout, so the SUBACK line arrives when it is printed rather than
    // when mosquitto_sub exits (a pipe is block-buffered).
    const child = execFile(
      'stdbuf',
      [
        '-oL',
        'mosquitto_sub',
        '-d',
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
        ...(login ? ['-u', login.username, '-P', login.password] : []),
      ],
      (error, stdout, stderr) => {
        subscribed();
        if (error) return reject(new Error(`${error.message}: ${stderr}\n${stdout}`));
        // With -d, each message is the line after mosquitto_sub's "… received PUBLISH …" line.
        const lines = stdout.split('\n');
        resolve(
          lines.flatMap((line, i) => (line.includes(' received PUBLISH ') ? [lines[i + 1] ?? ''] : [])),
        );
      },
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('received SUBACK')) subscribed();
    });
  });
  return { ready, messages };
}

/** GET `url` as `session` (its Authorization header), or anonymously with null. */
export async function getJson(
  session: Pick<ApiSession, 'headers'> | null,
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { headers: session?.headers ?? {} });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
