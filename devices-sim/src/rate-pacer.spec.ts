import { RatePacer } from './rate-pacer';

describe('RatePacer', () => {
  it('releases rate × elapsed messages in total, spread over the ticks', () => {
    const rate = 250;
    const pacer = new RatePacer(rate, 1000);
    const perTick: number[] = [];
    for (let now = 1000; now <= 5000; now += 20) perTick.push(pacer.take(now));
    expect(perTick.reduce((a, b) => a + b, 0)).toBe(rate * 4);
    // 250/s at 20 ms ticks is 5 per tick, never a one-second burst.
    expect(Math.max(...perTick.slice(1))).toBe(5);
  });

  it('handles rates below one per tick and per second', () => {
    const pacer = new RatePacer(0.5, 0);
    const released = [0, 999, 1999, 2000, 3999, 4000].map((now) => pacer.take(now));
    expect(released).toEqual([0, 0, 0, 1, 0, 1]);
  });

  it('drops a backlog larger than one burst after a stall instead of dumping it', () => {
    const pacer = new RatePacer(100, 0, 25);
    expect(pacer.take(100)).toBe(10);
    expect(pacer.take(3100)).toBe(25); // 300 were due; 275 dropped
    expect(pacer.droppedCount).toBe(275);
    expect(pacer.take(3200)).toBe(10); // back on schedule
  });

  it('rejects a non-positive rate', () => {
    expect(() => new RatePacer(0, 0)).toThrow(/positive/);
    expect(() => new RatePacer(Number.NaN, 0)).toThrow(/positive/);
  });
});
