import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableSpool, SpoolFullError } from './durable-spool';

interface Item {
  n: number;
  text: string;
}
const codec = {
  encode: (item: Item) => Buffer.from(JSON.stringify(item)),
  decode: (body: Buffer) => JSON.parse(body.toString('utf8')) as Item,
};
const items = (from: number, count: number): Item[] =>
  Array.from({ length: count }, (_, i) => ({ n: from + i, text: `reading ${from + i}` }));

describe('DurableSpool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('returns every unreleased record, in order, after a reopen without close (a crash)', async () => {
    const { spool } = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    await Promise.all(items(0, 500).map((item) => spool.append(item)));
    spool.releaseRecords(0, 120);
    // No close(): the process "dies" here, with the checkpoint possibly not yet written.
    const reopened = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    const ns = reopened.pending.map((item) => item.n);
    // Records released but not yet checkpointed may come back; nothing unreleased may be missing.
    expect(ns).toEqual(items(ns[0] ?? -1, 500 - (ns[0] ?? 0)).map((i) => i.n));
    expect(ns[0]).toBeLessThanOrEqual(120);
    expect(ns[ns.length - 1]).toBe(499);
    await reopened.spool.close();
    await spool.close();
  });

  it('forgets released records once checkpointed, across reopen', async () => {
    const first = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    await Promise.all(items(0, 100).map((item) => first.spool.append(item)));
    first.spool.releaseRecords(0, 60);
    await first.spool.close();
    const second = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    expect(second.pending.map((i) => i.n)).toEqual(items(60, 40).map((i) => i.n));
    // Record numbers go on across the restart: the first pending record is still number 60.
    expect(second.firstPendingIndex).toBe(60);
    await Promise.all(items(100, 10).map((item) => second.spool.append(item)));
    second.spool.releaseRecords(second.firstPendingIndex, 50);
    await second.spool.close();
    const third = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    expect(third.pending).toEqual([]);
    await third.spool.close();
  });

  it('commits appends of one moment together (group commit), handing them on in order', async () => {
    const committed: number[] = [];
    const bodies: Item[] = [];
    const { spool } = await DurableSpool.open<Item>(
      { dir, maxBytes: 1 << 20 },
      {
        ...codec,
        onCommitted: (batch, encoded) => {
          committed.push(...batch.map((i) => i.n));
          bodies.push(...encoded.map(codec.decode));
        },
      },
    );
    await Promise.all(items(0, 1000).map((item) => spool.append(item)));
    expect(committed).toEqual(items(0, 1000).map((i) => i.n));
    // Each item's encoded body comes with it, without the record header.
    expect(bodies).toEqual(items(0, 1000));
    const stats = spool.stats();
    expect(stats.committedRecords).toBe(1000);
    expect(stats.commits).toBeLessThan(10);
    expect(stats.records).toBe(1000);
    await spool.close();
  });

  it('releases records by index in any order, and forgets only the prefix released without a gap', async () => {
    const firstIndexes: number[] = [];
    const hooks = {
      ...codec,
      onCommitted: (_: Item[], __: Buffer[], first: number) => firstIndexes.push(first),
    };
    const first = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, hooks);
    await Promise.all(items(0, 10).map((item) => first.spool.append(item)));
    await Promise.all(items(10, 5).map((item) => first.spool.append(item)));
    // Two commits, numbered on from each other.
    expect(firstIndexes).toEqual([0, 10]);
    // Record 3 is done first (a reading the store refused), 0–2 are not stored yet.
    first.spool.releaseRecords(3);
    expect(first.spool.stats().records).toBe(14);
    expect(() => first.spool.releaseRecords(3)).toThrow(RangeError);
    expect(() => first.spool.releaseRecords(14, 2)).toThrow(RangeError);
    // A refused call changes nothing: 2 is not released along with the already released 3.
    expect(() => first.spool.releaseRecords(2, 2)).toThrow(RangeError);
    expect(first.spool.stats().records).toBe(14);
    await first.spool.close();
    // A crash now: 0–2 must come back (3 may come back too: replays are absorbed by the stores).
    const second = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    expect(second.firstPendingIndex).toBe(0);
    expect(second.pending.map((i) => i.n)).toEqual(items(0, 15).map((i) => i.n));
    // Now 0–2 and 4–6 are stored, 3 refused again: the prefix 0–6 is forgotten.
    second.spool.releaseRecords(4, 3);
    second.spool.releaseRecords(3);
    second.spool.releaseRecords(0, 3);
    expect(second.spool.stats().records).toBe(8);
    await second.spool.close();
    const third = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    expect(third.firstPendingIndex).toBe(7);
    expect(third.pending.map((i) => i.n)).toEqual(items(7, 8).map((i) => i.n));
    await third.spool.close();
  });

  it('stores text bodies as UTF-8 and gives them back after a restart', async () => {
    const textCodec = {
      encode: (item: Item) => JSON.stringify(item),
      decode: (body: Buffer) => JSON.parse(body.toString('utf8')) as Item,
    };
    const written = items(0, 50).map((item) => ({ ...item, text: `Tây Ninh 😀 ${item.n}` }));
    const first = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, textCodec);
    await Promise.all(written.map((item) => first.spool.append(item)));
    await first.spool.close();
    const second = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, textCodec);
    expect(second.pending).toEqual(written);
    expect(second.spool.stats().bytes).toBe(
      written.reduce((sum, item) => sum + 8 + Buffer.byteLength(JSON.stringify(item)), 0),
    );
    await second.spool.close();
  });

  it('drops a torn last record and keeps the intact ones before it', async () => {
    const { spool } = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    await Promise.all(items(0, 10).map((item) => spool.append(item)));
    await spool.close();
    const segment = readdirSync(dir).find((name) => name.endsWith('.seg')) as string;
    // A header promising 100 bytes followed by only 3: what a crash mid-write leaves.
    const torn = Buffer.alloc(11);
    torn.writeUInt32LE(100, 0);
    appendFileSync(join(dir, segment), torn);
    const reopened = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    expect(reopened.pending.map((i) => i.n)).toEqual(items(0, 10).map((i) => i.n));
    await reopened.spool.append({ n: 10, text: 'after the crash' });
    await reopened.spool.close();
    const again = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    expect(again.pending.map((i) => i.n)).toEqual(items(0, 11).map((i) => i.n));
    await again.spool.close();
  });

  it('refuses appends beyond its bound and accepts them again once records are released', async () => {
    const { spool } = await DurableSpool.open<Item>({ dir, maxBytes: 2000 }, codec);
    const accepted: Array<Promise<void>> = [];
    let refused: unknown;
    for (const item of items(0, 100)) {
      try {
        accepted.push(spool.append(item));
      } catch (error) {
        refused = error;
        break;
      }
    }
    await Promise.all(accepted);
    expect(refused).toBeInstanceOf(SpoolFullError);
    expect(accepted.length).toBeGreaterThan(10);
    expect(accepted.length).toBeLessThan(100);
    expect(spool.stats().bytes).toBeLessThanOrEqual(2000);
    spool.releaseRecords(0, accepted.length);
    await expect(spool.append({ n: 1000, text: 'room again' })).resolves.toBeUndefined();
    await spool.close();
  });

  it('rolls over to new segments and deletes those fully released', async () => {
    const { spool } = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20, segmentBytes: 1024 }, codec);
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(items(batch * 50, 50).map((item) => spool.append(item)));
    }
    const before = readdirSync(dir).filter((n) => n.endsWith('.seg')).length;
    expect(before).toBeGreaterThan(5);
    spool.releaseRecords(0, 500);
    await new Promise((r) => setTimeout(r, 400));
    expect(readdirSync(dir).filter((n) => n.endsWith('.seg')).length).toBe(1);
    await spool.close();
  });

  it('keeps one checkpoint write at a time while releases keep coming (no racing temp files)', async () => {
    const errors: Error[] = [];
    const { spool } = await DurableSpool.open<Item>(
      { dir, maxBytes: 1 << 20 },
      { ...codec, onError: (e) => errors.push(e) },
    );
    for (let round = 0; round < 12; round++) {
      await Promise.all(items(round * 20, 20).map((item) => spool.append(item)));
      spool.releaseRecords(round * 20, 20);
      // Around the 200 ms checkpoint delay, so new releases land while a write may be in flight.
      await new Promise((r) => setTimeout(r, 190 + (round % 3) * 10));
    }
    await spool.close();
    expect(errors).toEqual([]);
    const reopened = await DurableSpool.open<Item>({ dir, maxBytes: 1 << 20 }, codec);
    expect(reopened.pending).toEqual([]);
    await reopened.spool.close();
  });
});

describe('DurableSpool with several consumers', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spool-consumers-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const consumers = ['store', 'alerts'] as const;
  const open = (options: { maxBytes?: number; consumers?: readonly string[] } = {}) =>
    DurableSpool.open<Item>(
      { dir, maxBytes: options.maxBytes ?? 1 << 20, consumers: options.consumers ?? consumers },
      codec,
    );
  const consumerStats = (spool: DurableSpool<Item>, name: string) =>
    spool.stats().consumers.find((c) => c.consumer === name);

  it('forgets a record only once every consumer released it, whatever the order', async () => {
    const first = await open();
    await Promise.all(items(0, 20).map((item) => first.spool.append(item)));
    const bytesOfAll = first.spool.stats().bytes;
    // The store is ahead: 0–9 stored; the alert engine released 5–14 out of order.
    first.spool.releaseRecords(0, 10, 'store');
    first.spool.releaseRecords(5, 10, 'alerts');
    // Only 5–9 are released by both; 0–4 are held by alerts, 10–19 by the store (10–14) or both.
    expect(first.spool.stats().records).toBe(15);
    expect(first.spool.stats().bytes).toBeLessThan(bytesOfAll);
    expect(consumerStats(first.spool, 'store')).toEqual({
      consumer: 'store',
      released: 10,
      oldestHeld: 10,
      lag: 10,
    });
    expect(consumerStats(first.spool, 'alerts')).toEqual({
      consumer: 'alerts',
      released: 10,
      oldestHeld: 0,
      lag: 10,
    });
    await first.spool.close();
    // The checkpoint moved nowhere: record 0 is still held by alerts, so all 20 come again.
    const second = await open();
    expect(second.firstPendingIndex).toBe(0);
    expect(second.pending.map((i) => i.n)).toEqual(items(0, 20).map((i) => i.n));
    // After the restart each consumer holds every pending record again, and released nothing yet.
    for (const name of consumers) {
      expect(consumerStats(second.spool, name)).toEqual({
        consumer: name,
        released: 0,
        oldestHeld: 0,
        lag: 20,
      });
    }
    // The other order: alerts first, then the store: 0–11 released by both.
    second.spool.releaseRecords(0, 12, 'alerts');
    expect(second.spool.stats().records).toBe(20);
    second.spool.releaseRecords(0, 12, 'store');
    expect(second.spool.stats().records).toBe(8);
    expect(consumerStats(second.spool, 'alerts')).toMatchObject({ oldestHeld: 12, lag: 8 });
    await second.spool.close();
    const third = await open();
    expect(third.firstPendingIndex).toBe(12);
    expect(third.pending.map((i) => i.n)).toEqual(items(12, 8).map((i) => i.n));
    await third.spool.close();
  });

  it('replays, after a crash, every record either consumer still holds', async () => {
    const first = await open();
    await Promise.all(items(0, 100).map((item) => first.spool.append(item)));
    // The store wrote everything; the alert engine's last snapshot covers 0–59.
    first.spool.releaseRecords(0, 100, 'store');
    first.spool.releaseRecords(0, 60, 'alerts');
    // Wait for the checkpoint (written 200 ms after a release), then "crash": no close().
    const checkpointed = (): number => {
      try {
        return (JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { releasedIndex: number })
          .releasedIndex;
      } catch {
        return -1;
      }
    };
    const deadline = Date.now() + 5000;
    while (checkpointed() !== 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // The checkpoint is "released by all" (60), not the store's 100.
    expect(checkpointed()).toBe(60);
    const second = await open();
    expect(second.firstPendingIndex).toBe(60);
    expect(second.pending.map((i) => i.n)).toEqual(items(60, 40).map((i) => i.n));
    await second.spool.close();
    await first.spool.close();
  });

  it('bounds the spool by what any consumer holds: a stalled consumer fills it', async () => {
    const { spool } = await open({ maxBytes: 2000 });
    const accepted: Array<Promise<void>> = [];
    let refused: unknown;
    for (const item of items(0, 100)) {
      try {
        accepted.push(spool.append(item));
      } catch (error) {
        refused = error;
        break;
      }
    }
    await Promise.all(accepted);
    expect(refused).toBeInstanceOf(SpoolFullError);
    // The store keeps up, the alert engine does not: still full.
    const bytes = spool.stats().bytes;
    spool.releaseRecords(0, accepted.length, 'store');
    expect(spool.stats().bytes).toBe(bytes);
    expect(() => spool.append({ n: 1000, text: 'no room' })).toThrow(SpoolFullError);
    expect(consumerStats(spool, 'alerts')).toMatchObject({
      oldestHeld: 0,
      lag: accepted.length,
      released: 0,
    });
    expect(consumerStats(spool, 'store')).toMatchObject({
      oldestHeld: null,
      lag: 0,
      released: accepted.length,
    });
    spool.releaseRecords(0, accepted.length, 'alerts');
    await expect(spool.append({ n: 1000, text: 'room again' })).resolves.toBeUndefined();
    await spool.close();
  });

  it('refuses, changing nothing, a release by an unknown consumer, twice by one, or beyond the appended', async () => {
    const { spool } = await open();
    await Promise.all(items(0, 10).map((item) => spool.append(item)));
    spool.releaseRecords(3, 1, 'alerts');
    const before = spool.stats();
    expect(() => spool.releaseRecords(3, 1, 'alerts')).toThrow(RangeError);
    // 2 is not released along with the already released 3.
    expect(() => spool.releaseRecords(2, 2, 'alerts')).toThrow(/record 3 was released by alerts already/);
    expect(() => spool.releaseRecords(0, 1, 'notifier')).toThrow(RangeError);
    expect(() => spool.releaseRecords(9, 2, 'store')).toThrow(RangeError);
    expect(() => spool.releaseRecords(-1, 1, 'store')).toThrow(RangeError);
    expect(spool.stats()).toEqual(before);
    // Releasing 3 by the store is fine (another consumer), and once both did, a third release is refused.
    spool.releaseRecords(3, 1, 'store');
    expect(() => spool.releaseRecords(3, 1, 'store')).toThrow(RangeError);
    expect(spool.stats().records).toBe(9);
    await spool.close();
  });

  it('refuses a bad consumer list at open', async () => {
    await expect(open({ consumers: [] })).rejects.toThrow(RangeError);
    await expect(open({ consumers: ['store', 'store'] })).rejects.toThrow(RangeError);
    await expect(open({ consumers: ['store', ''] })).rejects.toThrow(RangeError);
    await expect(open({ consumers: Array.from({ length: 31 }, (_, i) => `c${i}`) })).rejects.toThrow(
      RangeError,
    );
  });

  it('tracks each consumer through many out-of-order releases (stats against a model)', async () => {
    const names = ['store', 'alerts', 'audit'];
    const { spool } = await open({ consumers: names });
    const total = 300;
    await Promise.all(items(0, total).map((item) => spool.append(item)));
    // A model: which consumers still hold each record.
    const held = names.map(() => new Set(Array.from({ length: total }, (_, i) => i)));
    // Deterministic pseudo-random runs (a linear congruential generator), each consumer its own order.
    let seed = 12345;
    const next = (bound: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % bound;
    };
    for (let step = 0; step < 400; step++) {
      const slot = next(names.length);
      const first = next(total);
      const count = 1 + next(8);
      const run = Array.from({ length: count }, (_, k) => first + k);
      const mine = held[slot] as Set<number>;
      if (run.every((i) => i < total && mine.has(i))) {
        spool.releaseRecords(first, count, names[slot]);
        for (const i of run) mine.delete(i);
      } else {
        expect(() => spool.releaseRecords(first, count, names[slot])).toThrow(RangeError);
      }
      const stats = spool.stats();
      names.forEach((name, s) => {
        const set = held[s] as Set<number>;
        expect(stats.consumers[s]).toEqual({
          consumer: name,
          released: total - set.size,
          oldestHeld: set.size === 0 ? null : Math.min(...set),
          lag: set.size,
        });
      });
      const anyHeld = Array.from({ length: total }, (_, i) => i).filter((i) =>
        held.some((set) => set.has(i)),
      );
      expect(stats.records).toBe(anyHeld.length);
    }
    await spool.close();
  });
});
