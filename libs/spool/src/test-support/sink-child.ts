// A broker-like process holding a DurableReadingSink with one extra spool consumer (`alerts`), for
// the crash test: argv[2] is the spool directory, argv[3] the embedded store's. It says `ready`
// and then answers one JSON line per JSON line on stdin:
// - {"op":"accept","from":n,"count":k}: accepts readings n … n+k−1 (awaits their durability);
//   answers {"ok":true}.
// - {"op":"release","first":i,"count":k}: the `alerts` consumer releases records i … i+k−1.
// - {"op":"stats"}: answers the sink's stats and the consumer's calls so far.
// It is meant to be killed with SIGKILL, never closed.
import { createInterface } from 'node:readline';
import type { Reading } from '@ioc/contracts';
import { createLogger } from '@ioc/runtime';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { DurableReadingSink, type SpoolConsumerLink } from '../durable-reading-sink';
import { sinkSpecReading } from './sink-readings';

async function main(): Promise<void> {
  const spoolDir = process.argv[2] as string;
  const store = new EmbeddedTimeSeriesStore({ dataDir: process.argv[3] as string, maintenanceIntervalMs: 0 });
  await store.init();
  const calls: Array<{ firstIndex: number; count: number; replay: boolean }> = [];
  let link: SpoolConsumerLink | undefined;
  const sink = await DurableReadingSink.open({
    store,
    spoolDir,
    spoolMaxBytes: 1 << 20,
    fullWaitMs: 0,
    writeBatchSize: 100,
    writeBatchDelayMs: 1,
    onDurable: () => undefined,
    consumers: [
      {
        name: 'alerts',
        attach: (given) => (link = given),
        onRecords: (readings, _bodies, firstIndex, replay) =>
          calls.push({ firstIndex, count: readings.length, replay }),
      },
    ],
    logger: createLogger('sink-child', { level: 'silent' }),
  });
  const answer = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
  answer('ready');
  for await (const line of createInterface({ input: process.stdin })) {
    try {
      const command = JSON.parse(line) as { op: string; from?: number; count?: number; first?: number };
      if (command.op === 'accept') {
        const readings: Reading[] = [];
        for (let i = 0; i < (command.count ?? 0); i++)
          readings.push(sinkSpecReading((command.from ?? 0) + i));
        await Promise.all(readings.map((r) => sink.accept(r)));
        answer({ ok: true });
      } else if (command.op === 'release') {
        link?.release(command.first ?? 0, command.count ?? 0);
        answer({ ok: true });
      } else {
        answer({ stats: sink.stats(), calls });
      }
    } catch (error) {
      answer({ error: (error as Error).message });
    }
  }
}

main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`, () => process.exit(1));
});
