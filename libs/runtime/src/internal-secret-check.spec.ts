import { Redis } from 'ioredis';
import { describeWithRedis, freePort, type RedisHandle, startRedis } from '@ioc/testing';
import { ConfigError } from './env-config';
import { nodeIdClaimKey } from './node-id-claim';
import {
  checkInternalSecretAtStart,
  INTERNAL_SECRET_FINGERPRINT_KEY,
  internalSecretFingerprint,
} from './redis-connection';

type LoggedCall = { level: string; msg: string };

function recordingLogger(): { calls: LoggedCall[]; log: never } {
  const calls: LoggedCall[] = [];
  const at =
    (level: string) =>
    (_fields: unknown, msg: string): void => {
      calls.push({ level, msg });
    };
  return { calls, log: { warn: at('warn'), info: at('info'), error: at('error') } as never };
}

const SECRET = 'the-platform-internal-secret-1';
const OTHER = 'another-internal-secret-2';

describe('internalSecretFingerprint', () => {
  it('is HMAC-SHA256 hex, tells secrets apart and does not contain the secret', () => {
    const fingerprint = internalSecretFingerprint(SECRET);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(internalSecretFingerprint(SECRET)).toBe(fingerprint);
    expect(internalSecretFingerprint(OTHER)).not.toBe(fingerprint);
    expect(fingerprint).not.toContain(Buffer.from(SECRET).toString('hex'));
  });
});

describe('checkInternalSecretAtStart without Redis', () => {
  it('answers unchecked (the node starts, as it does while Redis is away)', async () => {
    const { calls, log } = recordingLogger();
    const check = await checkInternalSecretAtStart({
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      secret: SECRET,
      kind: 'broker',
      id: '1',
      logger: log,
      timeoutMs: 2000,
    });
    expect(check).toMatchObject({ outcome: 'unchecked', problem: expect.stringContaining('ECONNREFUSED') });
    expect(calls).toEqual([
      { level: 'warn', msg: expect.stringContaining('IOC_INTERNAL_SECRET not compared') },
    ]);
  });
});

describeWithRedis('checkInternalSecretAtStart (every node on one IOC_INTERNAL_SECRET)', () => {
  let redis: RedisHandle;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await redis?.close();
  });

  beforeEach(async () => {
    await admin.flushall();
  });

  const check = (secret: string, kind: 'api' | 'broker', id: string, log: never) =>
    checkInternalSecretAtStart({ redisUrl: redis.url, secret, kind, id, logger: log });

  /** A live node's id claim, as claimNodeId writes it. */
  const claim = (kind: 'api' | 'broker', id: string): Promise<unknown> =>
    admin.set(
      nodeIdClaimKey(kind, id),
      JSON.stringify({
        instance: `i-${kind}-${id}`,
        host: 'node-host',
        pid: 4242,
        since: '2026-12-01T05:00:00.000Z',
      }),
      'PX',
      15_000,
    );

  it('records the fingerprint when none is, then accepts the same secret', async () => {
    const first = recordingLogger();
    await expect(check(SECRET, 'broker', '1', first.log)).resolves.toEqual({ outcome: 'recorded' });
    expect(await admin.get(INTERNAL_SECRET_FINGERPRINT_KEY)).toBe(internalSecretFingerprint(SECRET));
    await claim('broker', '1');
    const second = recordingLogger();
    await expect(check(SECRET, 'api', '1', second.log)).resolves.toEqual({ outcome: 'matches' });
    expect(second.calls.filter((call) => call.level !== 'info')).toEqual([]);
    // Nothing but the fingerprint: the secret itself is nowhere in Redis.
    for (const key of await admin.keys('*')) expect(await admin.get(key)).not.toContain(SECRET);
  });

  it('refuses another secret while other nodes run, naming IOC_INTERNAL_SECRET and them, and keeps the fingerprint', async () => {
    await check(SECRET, 'broker', '1', recordingLogger().log);
    await claim('broker', '1');
    await claim('api', '3');
    const refusal = await check(OTHER, 'broker', '2', recordingLogger().log).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ConfigError);
    const message = (refusal as Error).message;
    expect(message).toContain('IOC_INTERNAL_SECRET: differs from the one the running nodes use');
    expect(message).toContain('broker node 1 (host node-host, pid 4242');
    expect(message).toContain('api node 3 (host node-host');
    expect(message).toContain('stop every node, then start them all with the new one');
    expect(message).not.toContain(OTHER);
    expect(message).not.toContain(SECRET);
    expect(await admin.get(INTERNAL_SECRET_FINGERPRINT_KEY)).toBe(internalSecretFingerprint(SECRET));
  });

  it('replaces the fingerprint with a warning when no other node runs (its own id claim does not count)', async () => {
    await check(SECRET, 'broker', '1', recordingLogger().log);
    // This node's own claim (a restart of broker node 1 with the new secret) is not another node.
    await claim('broker', '1');
    const { calls, log } = recordingLogger();
    await expect(check(OTHER, 'broker', '1', log)).resolves.toEqual({ outcome: 'replaced' });
    expect(await admin.get(INTERNAL_SECRET_FINGERPRINT_KEY)).toBe(internalSecretFingerprint(OTHER));
    expect(calls).toEqual([{ level: 'warn', msg: expect.stringContaining('IOC_INTERNAL_SECRET changed') }]);
    // From now on the old secret is the odd one out.
    await claim('api', '1');
    await expect(check(SECRET, 'broker', '2', recordingLogger().log)).rejects.toThrow(ConfigError);
  });
});
