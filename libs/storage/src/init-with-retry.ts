import type { TimeSeriesStore } from './time-series-store';

/**
 * Initialises the store, retrying in the background when it is not reachable yet, so a broker
 * can start (and spool what it acknowledges) while the database is still coming up. Resolves
 * true when the first attempt succeeded; `onRetry` hears about each failure.
 */
export async function initWithRetry(
  store: TimeSeriesStore,
  options: { retryMs: number; onRetry: (error: Error) => void; onReady?: () => void },
): Promise<boolean> {
  const attempt = (): Promise<boolean> =>
    store.init().then(
      () => true,
      (error: unknown) => {
        options.onRetry(error instanceof Error ? error : new Error(String(error)));
        return false;
      },
    );
  if (await attempt()) return true;
  const retry = (): void => {
    setTimeout(() => {
      void attempt().then((ok) => (ok ? options.onReady?.() : retry()));
    }, options.retryMs).unref();
  };
  retry();
  return false;
}
