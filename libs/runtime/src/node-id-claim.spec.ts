import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import pino from 'pino';
import { describeWithRedis, type RedisHandle, startRedis } from '@ioc/testing';
import { claimNodeId, type NodeIdClaim, nodeIdClaimKey, NodeIdTakenError } from './node-id-claim';

const logger = pino({ level: 'silent' });
/** Short timings so a test waits a second or two, not a ttl of 15 s. */
const FAST = { ttlMs: 1500, renewMs: 300, pollMs: 100, redisWaitMs: 2000 };

async function until(
  check: () => Promise<boolean> | boolean,
  deadlineMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Counts the scripts (EVAL/EVALSHA: claim, renew, take over, release) Redis runs on each key, as
 * MONITOR reports them: a renewal is an event the specs can await instead of sleeping.
 */
async function watchScripts(admin: Redis): Promise<{ on(key: string): number; stop(): void }> {
  const monitor = await admin.monitor();
  const counts = new Map<string, number>();
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (!/^eval/i.test(args[0] ?? '')) return;
    for (const arg of args.slice(1))
      if (arg.startsWith('ioc:node:')) counts.set(arg, (counts.get(arg) ?? 0) + 1);
  });
  return { on: (key) => counts.get(key) ?? 0, stop: () => monitor.disconnect() };
}

describeWithRedis('claimNodeId (a node id held by one live process at a time)', () => {
  let redis: RedisHandle;
  let admin: Redis;
  const claims: NodeIdClaim[] = [];
  const claim = async (id: string, extra: Partial<typeof FAST> = {}): Promise<NodeIdClaim> => {
    const made = await claimNodeId({
      redisUrl: redis.url,
      kind: 'api',
      id,
      variable: 'IOC_NODE_ID',
      logger,
      ...FAST,
      ...extra,
    });
    claims.push(made);
    return made;
  };

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterEach(async () => {
    await Promise.all(claims.splice(0).map((c) => c.release()));
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.close();
  });

  it('claims ioc:node:api:{id} with a ttl, renews it, and releases it on a graceful stop', async () => {
    const scripts = await watchScripts(admin);
    const first = await claim('a');
    const key = nodeIdClaimKey('api', 'a');
    expect(key).toBe('ioc:node:api:a');
    expect(JSON.parse((await admin.get(key))!)).toEqual(first.holder);
    // Renewed: after more renewals than fit in one ttl (the claim, then ttl / renew + 1 of them),
    // the key is still there with its ttl back near the full ttl.
    const renewals = FAST.ttlMs / FAST.renewMs + 1;
    await until(() => scripts.on(key) >= 1 + renewals, 5 * FAST.ttlMs, `${renewals} renewals`);
    scripts.stop();
    expect(await admin.pttl(key)).toBeGreaterThan(FAST.ttlMs - 2 * FAST.renewMs);
    expect(first.problem()).toBeNull();
    await first.release();
    expect(await admin.exists(key)).toBe(0);
    // Released: the next start claims it at once.
    const started = Date.now();
    await claim('a');
    expect(Date.now() - started).toBeLessThan(FAST.ttlMs);
  });

  it('refuses a second claim of an id a live process holds, naming the variable', async () => {
    await claim('b');
    const started = Date.now();
    const second = claim('b');
    await expect(second).rejects.toBeInstanceOf(NodeIdTakenError);
    await expect(second).rejects.toThrow(/IOC_NODE_ID=b: another node holds this id \(ioc:node:api:b: host /);
    // Refused once the holder renewed (every renewMs), before the ttl could have run out.
    expect(Date.now() - started).toBeLessThan(FAST.ttlMs);
    // The holder keeps its claim.
    expect(claims[0]!.problem()).toBeNull();
    expect(JSON.parse((await admin.get('ioc:node:api:b'))!)).toEqual(claims[0]!.holder);
  });

  it('takes the claim of a holder on another host that was killed (never released) once its ttl has run out', async () => {
    const key = nodeIdClaimKey('broker', '7');
    const dead = { instance: 'x', host: 'another-host', pid: 1234, since: new Date().toISOString() };
    await admin.set(key, JSON.stringify(dead), 'PX', FAST.ttlMs);
    const started = Date.now();
    const taken = await claimNodeId({
      redisUrl: redis.url,
      kind: 'broker',
      id: '7',
      variable: 'IOC_BROKER_ID',
      logger,
      ...FAST,
    });
    claims.push(taken);
    // Not before its ttl ran out (it was not renewed), and soon after.
    expect(Date.now() - started).toBeGreaterThanOrEqual(FAST.ttlMs - 200);
    expect(Date.now() - started).toBeLessThan(FAST.ttlMs + 1500);
    expect(JSON.parse((await admin.get(key))!)).toEqual(taken.holder);
  });

  it('takes over at once the claim of a SIGKILLed process of this host', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid!;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const key = nodeIdClaimKey('api', 'c');
    const dead = { instance: 'y', host: hostname(), pid, since: new Date().toISOString() };
    // A production ttl: without the take-over the claim would wait 15 s.
    await admin.set(key, JSON.stringify(dead), 'PX', 15_000);
    const started = Date.now();
    const taken = await claim('c');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(JSON.parse((await admin.get(key))!)).toEqual(taken.holder);
  });

  it('reports a claim lost to another instance (after a long outage) and stops renewing instead of fighting', async () => {
    const held = await claim('d');
    const key = nodeIdClaimKey('api', 'd');
    // What another node's claim looks like once ours expired during an outage.
    const other = { instance: 'z', host: 'another-host', pid: 42, since: new Date().toISOString() };
    await admin.set(key, JSON.stringify(other), 'PX', 60_000);
    await until(() => held.problem() !== null, 5000, 'the lost claim to be reported');
    expect(held.problem()).toMatch(/IOC_NODE_ID=d is held by another node .*host another-host, pid 42/);
    // Not fought over: while a live claim beside it renews three times, it runs no script on the
    // key (a claim-or-renew would be its fight), and the other's claim stays.
    const scripts = await watchScripts(admin);
    const control = await claim('d-control');
    await until(() => scripts.on(control.key) >= 1 + 3, 10 * FAST.renewMs, 'three renewals of a live claim');
    scripts.stop();
    expect(scripts.on(key)).toBe(0);
    expect(JSON.parse((await admin.get(key))!)).toEqual(other);
    // release() does not delete the other's claim.
    await held.release();
    expect(JSON.parse((await admin.get(key))!)).toEqual(other);
  });

  it('claims again, without a problem, a claim that merely expired while Redis was away', async () => {
    const held = await claim('e');
    const key = nodeIdClaimKey('api', 'e');
    await admin.del(key); // as if it expired during an outage longer than the ttl
    await until(async () => (await admin.exists(key)) === 1, 5000, 'the claim to be made again');
    expect(held.problem()).toBeNull();
    expect(JSON.parse((await admin.get(key))!)).toEqual(held.holder);
  });
});
