import { z } from 'zod';
import { ConfigError, parseEnv } from './env-config';
import { redisEnvShape, requireExplicitWithRedis } from './redis-config';

const schema = z.object({ ...redisEnvShape });

describe('IOC_REDIS_URL', () => {
  it('is optional: unset or empty is the single-process mode', () => {
    expect(parseEnv(schema, {})).toEqual({});
    expect(parseEnv(schema, { IOC_REDIS_URL: '' })).toEqual({});
  });

  it.each(['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example:6380/2', 'redis://redis'])(
    'takes %s',
    (url) => {
      expect(parseEnv(schema, { IOC_REDIS_URL: url })).toEqual({ IOC_REDIS_URL: url });
    },
  );

  it.each(['http://127.0.0.1:6379', '127.0.0.1:6379', 'redis://', 'not a url'])(
    'refuses %s, naming the variable',
    (url) => {
      expect(() => parseEnv(schema, { IOC_REDIS_URL: url })).toThrow(
        /IOC_REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/,
      );
    },
  );
});

describe('requireExplicitWithRedis', () => {
  it('asks nothing without IOC_REDIS_URL', () => {
    expect(() => requireExplicitWithRedis(['IOC_NODE_ID'], {})).not.toThrow();
    expect(() => requireExplicitWithRedis(['IOC_NODE_ID'], { IOC_REDIS_URL: '' })).not.toThrow();
  });

  it('with IOC_REDIS_URL, refuses an unset or empty id, naming each variable', () => {
    const env = { IOC_REDIS_URL: 'redis://127.0.0.1:6379', IOC_BROKER_ID: '' };
    let error: unknown;
    try {
      requireExplicitWithRedis(['IOC_NODE_ID', 'IOC_BROKER_ID'], env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^IOC_NODE_ID: must be set explicitly when IOC_REDIS_URL is set/),
      expect.stringMatching(/^IOC_BROKER_ID: must be set explicitly when IOC_REDIS_URL is set/),
    ]);
  });

  it('with IOC_REDIS_URL, takes ids given explicitly (even the default value)', () => {
    expect(() =>
      requireExplicitWithRedis(['IOC_NODE_ID'], { IOC_REDIS_URL: 'redis://r:6379', IOC_NODE_ID: '1' }),
    ).not.toThrow();
  });
});
