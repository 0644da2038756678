import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from './logger';
import { REDIS_KEY_PREFIX } from './scale-out';

/**
 * How long a node's claim on its id lives in Redis without renewal (ms). 15 s = three missed
 * renewals, as aedes judges a broker node gone after three missed 5 s heartbeats. It bounds how
 * long a node restarted on ANOTHER machine after its predecessor was SIGKILLed waits at start
 * (the claim of a dead instance on the same host is taken over at once, see claimNodeId).
 */
export const NODE_ID_CLAIM_TTL_MS = 15_000;
/** How often the holder renews its claim (ms): a third of the ttl, so one lost renewal is harmless. */
export const NODE_ID_CLAIM_RENEW_MS = 5_000;
/** While the id is held, how often a starting node looks again (ms). */
export const NODE_ID_CLAIM_POLL_MS = 500;
/**
 * How long a starting node waits for Redis to answer its claim (ms). Past it the node starts all
 * the same (the API serves REST while Redis is away) and claims once Redis answers; a holder found
 * then is reported like a claim lost (NodeIdClaim.problem).
 */
export const NODE_ID_CLAIM_REDIS_WAIT_MS = 10_000;

/** The kind of node: its key is `ioc:node:{kind}:{id}`. */
export type NodeKind = 'api' | 'broker';

/** The key of a node id's claim: `ioc:node:api:{IOC_NODE_ID}`, `ioc:node:broker:{IOC_BROKER_ID}`. */
export function nodeIdClaimKey(kind: NodeKind, id: string): string {
  return `${REDIS_KEY_PREFIX}node:${kind}:${id}`;
}

/** What the claim's value says of its holder (JSON; written by claimNodeId). */
export interface NodeIdHolder {
  /** A random UUID per process start. */
  instance: string;
  /** `os.hostname()` of the holder (a container's or pod's name). */
  host: string;
  pid: number;
  /** When it claimed the id (ISO 8601). */
  since: string;
}

/**
 * claim-or-renew, atomically: KEYS[1] the claim, ARGV[1] our value, ARGV[2] ttl ms.
 * Returns {1} claimed (it was free), {2} renewed (ours), or {0, holder's value, its PTTL}.
 */
const CLAIM_OR_RENEW = `
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1}
end
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {2}
end
return {0, held, redis.call('PTTL', KEYS[1])}
`;
/** Replaces the value ARGV[1] (a dead holder's) by ARGV[2] with ttl ARGV[3]: 1 when done, 0 when it changed meanwhile. */
const TAKE_OVER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`;
/** Deletes the claim only if it is still ours (ARGV[1]): 1 deleted, 0 not ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * Thrown at start when another live process holds the node's id: the message names the variable,
 * the key and the holder, and says what to do.
 */
export class NodeIdTakenError extends Error {
  constructor(
    readonly variable: string,
    readonly id: string,
    readonly key: string,
    readonly holder: string,
  ) {
    super(
      `${variable}=${id}: another node holds this id (${key}: ${holder}) and keeps renewing its claim; ` +
        `give every node its own ${variable}`,
    );
    this.name = 'NodeIdTakenError';
  }
}

export interface NodeIdClaimOptions {
  /** IOC_REDIS_URL. */
  redisUrl: string;
  kind: NodeKind;
  /** The node's id (IOC_NODE_ID / IOC_BROKER_ID). */
  id: string;
  /** The variable it comes from, named in errors. */
  variable: string;
  logger: Logger;
  /** Defaults: NODE_ID_CLAIM_TTL_MS, NODE_ID_CLAIM_RENEW_MS, NODE_ID_CLAIM_POLL_MS, NODE_ID_CLAIM_REDIS_WAIT_MS (tests shorten them). */
  ttlMs?: number;
  renewMs?: number;
  pollMs?: number;
  redisWaitMs?: number;
}

/** A node's claim on its id, held and renewed until release(). */
export interface NodeIdClaim {
  /** `ioc:node:{kind}:{id}`. */
  readonly key: string;
  /** This process's value in the key. */
  readonly holder: NodeIdHolder;
  /**
   * null while the claim is held (or Redis is unreachable: nobody else can take it before its ttl,
   * and the holder re-claims it when Redis is back); otherwise what is wrong, for /health: another
   * instance holds the id (taken after an outage longer than the ttl, or found at a late first
   * claim). The node then no longer renews: it does not fight the other one.
   */
  problem(): string | null;
  /** Stops renewing, deletes the claim if it is still ours, closes the Redis connection. Never throws. */
  release(): Promise<void>;
}

/** A claim's value (NodeIdHolder JSON) as a person reads it: `host …, pid …, since …`. */
export function describeNodeIdClaim(value: string): string {
  return describeHolder(value);
}

function describeHolder(value: string): string {
  const holder = parseHolder(value);
  return holder ? `host ${holder.host}, pid ${holder.pid}, since ${holder.since}` : JSON.stringify(value);
}

function parseHolder(value: string): NodeIdHolder | undefined {
  try {
    const parsed = JSON.parse(value) as Partial<NodeIdHolder>;
    return typeof parsed.instance === 'string' &&
      typeof parsed.host === 'string' &&
      typeof parsed.pid === 'number' &&
      typeof parsed.since === 'string'
      ? (parsed as NodeIdHolder)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The instances this process has made (a claim of one of them is alive, whatever its pid says). */
const ownInstances = new Set<string>();

/**
 * A process on this host that is gone (kill(pid, 0) answers ESRCH), or this very process's pid
 * under another instance (a previous incarnation: a restarted container's process is pid 1 again).
 */
function deadOnThisHost(holder: NodeIdHolder | undefined): boolean {
  if (!holder || holder.host !== hostname() || ownInstances.has(holder.instance)) return false;
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

type ClaimAnswer = [1] | [2] | [0, string, number];

/**
 * Claims the node's id in Redis at start (`SET ioc:node:{kind}:{id} {holder} NX PX ttl`, in a Lua
 * claim-or-renew), renews it every `renewMs` while the process runs, and releases it on release().
 * Two nodes started with the same IOC_NODE_ID (or IOC_BROKER_ID) would take each other's bus
 * connection (client id `ioc-api-{id}`) or mix their wills and heartbeats (aedes id
 * `ioc-broker-{id}`): the second one is refused instead.
 *
 * When the id is held by another instance at start:
 * - held by a process of this host that is gone (SIGKILLed; or this pid — a restarted container),
 *   it is taken over at once (compare-and-set);
 * - otherwise the node looks again every `pollMs`: if the claim disappears or expires (its holder
 *   was killed elsewhere: at most `ttlMs`, 15 s), it claims it; if the holder renews it (its ttl
 *   goes up, within `renewMs`, 5 s) or another instance appears, the holder is alive: it throws.
 * If Redis does not answer within `redisWaitMs` the node starts without the claim and makes it
 * when Redis answers (a holder found then is reported by problem()).
 *
 * @throws NodeIdTakenError when a live instance holds the id
 */
export async function claimNodeId(options: NodeIdClaimOptions): Promise<NodeIdClaim> {
  const ttlMs = options.ttlMs ?? NODE_ID_CLAIM_TTL_MS;
  const renewMs = options.renewMs ?? NODE_ID_CLAIM_RENEW_MS;
  const pollMs = options.pollMs ?? NODE_ID_CLAIM_POLL_MS;
  const redisWaitMs = options.redisWaitMs ?? NODE_ID_CLAIM_REDIS_WAIT_MS;
  const { logger, variable, id } = options;
  const key = nodeIdClaimKey(options.kind, id);
  const holder: NodeIdHolder = {
    instance: randomUUID(),
    host: hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
  };
  ownInstances.add(holder.instance);
  const value = JSON.stringify(holder);
  const client = new Redis(options.redisUrl, {
    connectionName: `ioc-${options.kind}-claim`,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  client.on('error', () => undefined); // ioredis retries; the claim's outcome is what is reported
  const claimOrRenew = async (): Promise<ClaimAnswer> =>
    (await client.eval(CLAIM_OR_RENEW, 1, key, value, ttlMs)) as ClaimAnswer;

  let problem: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let renewing = false;
  const lose = (holderValue: string): void => {
    problem = `${variable}=${id} is held by another node (${key}: ${describeHolder(holderValue)}); this node stopped claiming it: stop one of them and give each its own ${variable}`;
    logger.error({ key, holder: holderValue, variable }, problem);
    clearInterval(timer);
  };
  const renew = async (): Promise<void> => {
    if (renewing || problem !== null) return;
    renewing = true;
    try {
      const answer = await claimOrRenew();
      if (answer[0] === 0) lose(answer[1]);
      else if (answer[0] === 1) logger.info({ key }, 'node id claimed again (its claim had expired)');
    } catch (error) {
      logger.warn({ err: (error as Error).message, key }, 'node id claim not renewed; retrying');
    } finally {
      renewing = false;
    }
  };
  const startRenewing = (): void => {
    timer = setInterval(() => void renew(), renewMs);
    timer.unref();
  };
  const claim: NodeIdClaim = {
    key,
    holder,
    problem: () => problem,
    async release() {
      clearInterval(timer);
      if (problem === null && client.status === 'ready') {
        await Promise.race([
          client.eval(RELEASE, 1, key, value).catch(() => undefined),
          new Promise((resolve) => setTimeout(resolve, 1000).unref()),
        ]);
      }
      await Promise.race([
        client.quit().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
      client.disconnect();
    },
  };

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  let seen: { value: string; pttl: number; at: number } | undefined;
  const startedAt = Date.now();
  for (;;) {
    let answer: ClaimAnswer;
    try {
      const first = claimOrRenew();
      let wait: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        first,
        new Promise<null>((resolve) => (wait = setTimeout(() => resolve(null), redisWaitMs))),
      ]).finally(() => clearTimeout(wait));
      if (waited === null) {
        first.catch(() => undefined);
        logger.warn(
          { key, waitedMs: redisWaitMs },
          `Redis does not answer: starting without checking ${variable}; it is claimed once Redis answers`,
        );
        startRenewing();
        return claim;
      }
      answer = waited;
    } catch (error) {
      await claim.release();
      throw error;
    }
    if (answer[0] !== 0) {
      logger.info({ key }, 'node id claimed');
      startRenewing();
      return claim;
    }
    const [, heldBy, pttl] = answer;
    const now = Date.now();
    if (deadOnThisHost(parseHolder(heldBy))) {
      const taken = await client
        .eval(TAKE_OVER, 1, key, heldBy, value, ttlMs)
        .catch(async (error: unknown) => {
          await claim.release();
          throw error;
        });
      if (taken === 1) {
        logger.warn({ key, previous: heldBy }, 'node id taken over from a process of this host that is gone');
        startRenewing();
        return claim;
      }
      continue;
    }
    // Renewed (its ttl went up rather than down), held by yet another instance, held without expiry,
    // or held past two ttls of waiting: a live holder.
    const renewed =
      seen !== undefined && (heldBy !== seen.value || pttl > seen.pttl - (now - seen.at) + pollMs / 2);
    if (renewed || pttl < 0 || now - startedAt > 2 * ttlMs) {
      await claim.release();
      throw new NodeIdTakenError(variable, id, key, describeHolder(heldBy));
    }
    if (seen === undefined)
      logger.warn(
        { key, holder: heldBy, expiresInMs: pttl },
        `${variable} is claimed by another instance: waiting for its claim to expire (a node killed without releasing it) or be renewed (a live node: refused)`,
      );
    seen = { value: heldBy, pttl, at: now };
    await sleep(Math.min(pollMs, pttl + 10));
  }
}

/**
 * The node's health conditions from its claim (for /health, or a broker's ingest statistics):
 * `node-id-taken` (critical) while another instance holds the id, none otherwise. Shaped as
 * `HealthCondition` of @ioc/contracts.
 */
export function nodeIdTakenCondition(
  claim: Pick<NodeIdClaim, 'problem'>,
): { code: 'node-id-taken'; severity: 'critical'; message: string }[] {
  const problem = claim.problem();
  return problem === null ? [] : [{ code: 'node-id-taken', severity: 'critical', message: problem }];
}
