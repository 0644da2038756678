import { deserialize } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { Reading } from '@ioc/contracts';
import { createTimeSeriesStore, type TimeSeriesStoreConfig } from '../create-time-series-store';
import { type StoreAnswer, type StoreCall, toWireError } from './store-worker-protocol';

/**
 * The worker thread's side of WorkerTimeSeriesStore: one store, built from the cloned config,
 * answering calls in the order they come. Its background maintenance (rollups, retention) runs
 * on this thread too, next to the writes.
 */
const port = parentPort;
if (port === null) throw new Error('store-worker.ts runs as a worker thread only');
const store = createTimeSeriesStore(workerData as TimeSeriesStoreConfig);

port.on('message', (call: StoreCall) => {
  void handle(call).then((answer) => port.postMessage(answer));
});

async function handle({ id, method, args }: StoreCall): Promise<StoreAnswer> {
  try {
    if (method === 'write') {
      const readings = deserialize(args[0] as Uint8Array) as Reading[];
      await store.write(readings);
      return { id, ok: true, value: undefined };
    }
    const value: unknown = await (store[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    return { id, ok: true, value };
  } catch (error) {
    return { id, ok: false, error: toWireError(error) };
  }
}
