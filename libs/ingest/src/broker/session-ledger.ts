import type Redis from 'ioredis';
import type { Client } from 'aedes';
import { REDIS_KEY_PREFIX, type Logger } from '@ioc/runtime';
import { clientInternals } from './aedes-internals';

/**
 * Keys of the session ledger in Redis (broker nodes with IOC_REDIS_URL):
 * - `ioc:mqtt-sessions:{deviceId}`: sorted set of the device's live sessions on every node, member
 *   `{clientId length}:{clientId}|{node}|{n}` (one per connection), score its expiry (epoch ms,
 *   Redis' clock); the whole key expires with its newest member.
 * - `ioc:mqtt-client-owners`: hash client id → the device (or `agency:{agencyId}`) that holds a
 *   persistent session (clean=false) under it, kept as long as the session (aedes-persistence-redis
 *   keeps sessions until the client connects with clean=true).
 */
export const SESSION_LEDGER_KEY_PREFIX = `${REDIS_KEY_PREFIX}mqtt-sessions:`;
export const CLIENT_OWNERS_KEY = `${REDIS_KEY_PREFIX}mqtt-client-owners`;

/**
 * How long a live session stays in the ledger without being renewed (ms): three heartbeat
 * intervals, as aedes' and ClusterSessions' notion of a node that is gone. Each node renews its
 * sessions every `renewMs` (the heartbeat interval); a crashed node's sessions stop counting
 * against their devices' limit this long after its last renewal.
 */
export const SESSION_LEDGER_TTL_FACTOR = 3;

/** How long a renewal waits for Redis (ms); one that times out is retried at the next interval. */
export const SESSION_LEDGER_TIMEOUT_MS = 2000;

/**
 * The admission, atomically in Redis. KEYS: the device's sessions, the client-id owners.
 * ARGV: member, the member prefix of this client id, max sessions (-1: not counted), ttl (ms),
 * client id, owner, `1` when the session is persistent.
 * Returns `{'ok'}`, `{'bound', owner}` or `{'full', open}`.
 */
const ADMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bound = redis.call('HGET', KEYS[2], ARGV[5])
if bound and bound ~= ARGV[6] then return {'bound', bound} end
local max = tonumber(ARGV[3])
if max >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local open = 0
  local prefix = ARGV[2]
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if string.sub(m, 1, #prefix) ~= prefix then open = open + 1 end
  end
  if open >= max then return {'full', tostring(open)} end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
end
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[6])
elseif bound then
  redis.call('HDEL', KEYS[2], ARGV[5])
end
return {'ok'}
`;

/**
 * Renews live sessions. KEYS: session keys; ARGV[1] ttl (ms), ARGV[1 + i] the member of KEYS[i].
 */
const RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS
`;

/** Sessions renewed per script call at most (a bound on one command's size). */
const RENEW_CHUNK = 500;

/** What the ledger answers an admission. */
export type LedgerAdmission =
  | { admitted: true; recorded: boolean }
  | { admitted: false; reason: 'bound'; boundTo: string }
  | { admitted: false; reason: 'full'; open: number }
  | { admitted: false; reason: 'unavailable' };

/** One request to the ledger, made while the CONNECT is authenticated. */
export interface LedgerRequest {
  /** The device id, or `agency:{agencyId}`. */
  owner: string;
  /** Live sessions the owner may hold across every node; undefined: not counted (agencies). */
  maxSessions?: number;
}

/**
 * The live sessions and the client-id bindings of every broker node, in Redis: the shared truth
 * behind IOC_MQTT_MAX_SESSIONS_PER_DEVICE and the client-id binding (DeviceSessions keeps the
 * same on one node, in memory).
 *
 * - The count is atomic (one Lua script per CONNECT): simultaneous CONNECTs of one device to several
 *   nodes cannot exceed the limit between them, as the nodes' announcements (ClusterSessions) could.
 *   A connection taking over its own client id is not an extra session [MQTT-3.1.4-2].
 * - A persistent session's client id stays bound to its device in Redis for as long as the session
 *   is kept there, so no other device can take it over after the node that held the binding in
 *   memory restarted (it would be handed the session's subscriptions and queued commands).
 * - During a Redis outage an admission waits for Redis, as the CONNECT waits for aedes' own
 *   session lookup there: the count stays exact however many CONNECTs arrive meanwhile (a tester
 *   found 8 of 12 admitted with a limit of 4 when admissions gave up after 2 s). Should the
 *   ledger fail otherwise (an error from Redis), a clean session is admitted on the node's own
 *   checks (`recorded: false`: the next renewal records it) and a persistent one is refused as
 *   unavailable.
 */
export class SessionLedger {
  private readonly members = new Map<Client, { key: string; member: string }>();
  private sequence = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private unavailableLogged = false;

  /**
   * @param redis a connection whose commands wait out an outage (ioredis' offline queue, no retry limit)
   * @param options.node this node's aedes id; options.renewMs how often live sessions are renewed
   *   (the heartbeat interval); they expire after SESSION_LEDGER_TTL_FACTOR × renewMs
   */
  constructor(
    private readonly redis: Redis,
    private readonly options: { node: string; renewMs: number; logger: Logger },
  ) {
    this.renewTimer = setInterval(() => void this.renew(), options.renewMs);
    this.renewTimer.unref();
  }

  private get ttlMs(): number {
    return SESSION_LEDGER_TTL_FACTOR * this.options.renewMs;
  }

  /**
   * Admits `client` (already authenticated as `request.owner`) if its client id is not bound to
   * another owner and the owner's live sessions on every node stay within `maxSessions`; records
   * the session (released when the connection closes) and binds a persistent session's client id.
   */
  async admit(client: Client, request: LedgerRequest): Promise<LedgerAdmission> {
    const clientId = client.id;
    const prefix = `${clientId.length}:${clientId}|`;
    const member = `${prefix}${this.options.node}|${++this.sequence}`;
    const key = `${SESSION_LEDGER_KEY_PREFIX}${request.owner}`;
    const counted = request.maxSessions !== undefined;
    let closed = false;
    if (counted) {
      clientInternals(client).conn.once('close', () => {
        closed = true;
        if (this.members.get(client)?.member === member) this.members.delete(client);
        this.release(key, member);
      });
    }
    let answer: unknown;
    try {
      answer = await this.redis.eval(
        ADMIT_SCRIPT,
        2,
        key,
        CLIENT_OWNERS_KEY,
        member,
        prefix,
        String(request.maxSessions ?? -1),
        String(this.ttlMs),
        clientId,
        request.owner,
        client.clean === false ? '1' : '0',
      );
    } catch (error) {
      this.reportUnavailable(error as Error);
      if (client.clean === false) return { admitted: false, reason: 'unavailable' };
      if (counted && !closed) this.members.set(client, { key, member });
      return { admitted: true, recorded: false };
    }
    this.unavailableLogged = false;
    const [outcome, detail] = answer as [string, string?];
    if (outcome === 'bound') return { admitted: false, reason: 'bound', boundTo: String(detail) };
    if (outcome === 'full') return { admitted: false, reason: 'full', open: Number(detail) };
    if (counted) {
      if (closed) this.release(key, member);
      else this.members.set(client, { key, member });
    }
    return { admitted: true, recorded: true };
  }

  /** Stops renewing (the node is closing); its sessions expire from the ledger by themselves. */
  close(): void {
    clearInterval(this.renewTimer);
  }

  /** Renews every live session of this node (and records those admitted while Redis was away). */
  async renew(): Promise<void> {
    // During an outage renewals would only pile up in the offline queue; the sessions expire
    // meanwhile and the first renewal after it records them again.
    if (this.redis.status !== 'ready') return;
    const entries = [...this.members.values()];
    for (let i = 0; i < entries.length; i += RENEW_CHUNK) {
      const chunk = entries.slice(i, i + RENEW_CHUNK);
      try {
        await withTimeout(
          this.redis.eval(
            RENEW_SCRIPT,
            chunk.length,
            ...chunk.map((e) => e.key),
            String(this.ttlMs),
            ...chunk.map((e) => e.member),
          ),
          SESSION_LEDGER_TIMEOUT_MS,
        );
      } catch (error) {
        this.reportUnavailable(error as Error);
        return;
      }
    }
  }

  private release(key: string, member: string): void {
    this.redis.zrem(key, member).catch(() => undefined); // not recorded, or Redis away: it expires
  }

  private reportUnavailable(error: Error): void {
    if (this.unavailableLogged) return;
    this.unavailableLogged = true;
    this.options.logger.warn(
      { err: error.message },
      'session ledger failed in Redis: clean sessions admitted on this node alone, persistent ones refused until it answers',
    );
  }
}

/** `promise`, or a rejection after `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
