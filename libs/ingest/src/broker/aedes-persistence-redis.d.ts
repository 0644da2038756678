/**
 * aedes-persistence-redis 11.2 ships no type declarations: the part the broker uses. The factory
 * returns aedes-persistence's CallBackPersistence, whose methods return promises when called
 * without a callback (what aedes 1.2 does).
 */
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';

  interface RedisPersistenceOptions {
    /** An ioredis connection to use (its keyPrefix applies to every key). */
    conn?: Redis;
    /** Largest number of queued messages delivered on a CONNECT (default 1000). */
    maxSessionDelivery?: number;
    /** Seconds a queued message is kept, per packet (default: no expiry). */
    packetTTL?: (packet: unknown) => number;
  }

  function aedesPersistenceRedis(options?: RedisPersistenceOptions): {
    setup(broker: unknown): Promise<void>;
    destroy(callback?: (error?: Error) => void): unknown;
  };
  export = aedesPersistenceRedis;
}
