import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
