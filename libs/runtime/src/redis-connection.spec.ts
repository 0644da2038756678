import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { describeWithRedis, type RedisHandle, startRedis } from '@ioc/testing';
import { isRedisAuthError, redactRedisUrl, watchRedisConnection } from './redis-connection';

type LoggedCall = { level: string; fields: Record<string, unknown>; msg: string };

/** A logger that records its calls. */
function recordingLogger(): { calls: LoggedCall[]; log: never } {
  const calls: LoggedCall[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      calls.push({ level, fields, msg });
    };
  return { calls, log: { warn: at('warn'), info: at('info'), error: at('error') } as never };
}

async function until(check: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('redactRedisUrl', () => {
  it('hides the password, keeps the rest', () => {
    expect(redactRedisUrl('redis://:s3cret@redis:6379/0')).toBe('redis://:***@redis:6379/0');
    expect(redactRedisUrl('rediss://ioc:s3cret@redis.example:6380')).toBe(
      'rediss://ioc:***@redis.example:6380',
    );
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactRedisUrl('not a url')).toBe('(unparsable URL)');
  });
});

describe('watchRedisConnection', () => {
  const logger = recordingLogger;

  it('gives the client an error listener and logs each outage once, and the recovery once', () => {
    const client = new EventEmitter();
    const { calls, log } = logger();
    watchRedisConnection(client as never, log, 'mq-pub');
    // Without a listener EventEmitter would throw here (ioredis prints "Unhandled error event").
    client.emit('close');
    for (let i = 0; i < 20; i++) client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    client.emit('ready');
    client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    client.emit('close');
    client.emit('ready');
    expect(calls.map((call) => `${call.level} ${call.msg}`)).toEqual([
      'warn Redis (IOC_REDIS_URL) unreachable; retrying until it is back',
      'info Redis connection back',
      'warn Redis (IOC_REDIS_URL) unreachable; retrying until it is back',
      'info Redis connection back',
    ]);
    expect(calls.every((call) => call.fields['connection'] === 'mq-pub')).toBe(true);
  });

  it('logs a refused password at error level, naming IOC_REDIS_URL', () => {
    const client = new EventEmitter();
    const { calls, log } = logger();
    watchRedisConnection(client as never, log, 'rate limits');
    client.emit('error', new Error('WRONGPASS invalid username-password pair or user is disabled.'));
    expect(calls).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: expect.stringContaining('IOC_REDIS_URL (authentication failed)'),
      }),
    ]);
    expect(isRedisAuthError(new Error('NOAUTH Authentication required.'))).toBe(true);
    expect(isRedisAuthError(new Error('connect ECONNREFUSED 127.0.0.1:6379'))).toBe(false);
  });
});

describeWithRedis('watchRedisConnection on a real Redis', () => {
  let redis: RedisHandle;
  const clients: Redis[] = [];
  /** A connected ioredis client, watched, and its log. */
  const connect = async (): Promise<{ client: Redis; calls: LoggedCall[] }> => {
    const client = new Redis(redis.url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
    clients.push(client);
    const { calls, log } = recordingLogger();
    watchRedisConnection(client, log, 'mq-sub');
    await client.ping();
    return { client, calls };
  };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await redis?.close();
  });

  it('logs nothing for a connection closed on purpose (quit(), disconnect()): a shutdown is no outage', async () => {
    const quitting = await connect();
    const disconnecting = await connect();
    const ended = new Promise((resolve) => disconnecting.client.once('end', resolve));
    await quitting.client.quit();
    disconnecting.client.disconnect();
    await ended;
    await until(() => quitting.client.status === 'end', 5000, 'the quit connection to end');
    expect(quitting.calls).toEqual([]);
    expect(disconnecting.calls).toEqual([]);
  });

  it('still logs a real outage once, and its end once', async () => {
    const { client, calls } = await connect();
    await redis.stop();
    await until(() => calls.length > 0, 10_000, 'the outage warning');
    await redis.start();
    await until(() => client.status === 'ready' && calls.length > 1, 15_000, 'the connection back');
    expect(calls.map((call) => `${call.level} ${call.msg}`)).toEqual([
      'warn Redis (IOC_REDIS_URL) unreachable; retrying until it is back',
      'info Redis connection back',
    ]);
    await client.quit();
    expect(calls).toHaveLength(2);
  });
});
