import { EventEmitter } from 'node:events';
import { isRedisAuthError, redactRedisUrl, watchRedisConnection } from './redis-connection';

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
  const logger = () => {
    const calls: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const at =
      (level: string) =>
      (fields: Record<string, unknown>, msg: string): void => {
        calls.push({ level, fields, msg });
      };
    return { calls, log: { warn: at('warn'), info: at('info'), error: at('error') } as never };
  };

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
