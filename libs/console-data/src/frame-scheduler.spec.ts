import { FrameBatch, ManualFrameScheduler, browserFrameScheduler } from './frame-scheduler';

describe('FrameBatch', () => {
  it('hands each key’s latest value to listeners once per frame, however many changes arrive', () => {
    const scheduler = new ManualFrameScheduler();
    const batch = new FrameBatch<string, number>(scheduler);
    const deliveries: number[][] = [];
    batch.listen((values) => deliveries.push(values));
    for (let i = 0; i < 5000; i++) batch.mark(`k${i % 100}`, i);
    expect(scheduler.pending).toBe(1);
    scheduler.flush();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toHaveLength(100);
    expect(deliveries[0]).toContain(4999);
    expect(deliveries[0]).not.toContain(0);
    scheduler.flush();
    expect(deliveries).toHaveLength(1);
  });

  it('puts a change made during a delivery into the next frame', () => {
    const scheduler = new ManualFrameScheduler();
    const batch = new FrameBatch<string, number>(scheduler);
    const deliveries: number[][] = [];
    batch.listen((values) => {
      deliveries.push(values);
      if (values.includes(1)) batch.mark('b', 2);
    });
    batch.mark('a', 1);
    scheduler.flush();
    expect(deliveries).toEqual([[1]]);
    scheduler.flush();
    expect(deliveries).toEqual([[1], [2]]);
  });

  it('delivers what changed before the first listener once one listens', () => {
    const scheduler = new ManualFrameScheduler();
    const batch = new FrameBatch<string, number>(scheduler);
    batch.mark('a', 1);
    expect(scheduler.pending).toBe(0);
    const seen: number[][] = [];
    batch.listen((values) => seen.push(values));
    scheduler.flush();
    expect(seen).toEqual([[1]]);
  });
});

describe('browserFrameScheduler', () => {
  it('runs a frame after the hidden-tab fallback when requestAnimationFrame never fires (node has none)', async () => {
    const scheduler = browserFrameScheduler();
    const order: number[] = [];
    const started = Date.now();
    await new Promise<void>((resolve) => {
      scheduler.request(() => order.push(1));
      scheduler.request(() => {
        order.push(2);
        resolve();
      });
    });
    expect(order).toEqual([1, 2]);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
