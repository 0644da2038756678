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

/** initWithRetry with the platform's log lines: what both the broker and the API do at start. */
export function initLoggingRetries(
  store: TimeSeriesStore,
  logger: { warn(obj: object, msg: string): void; info(msg: string): void },
): Promise<boolean> {
  return initWithRetry(store, {
    retryMs: 5000,
    onRetry: (error) => logger.warn({ err: error.message }, 'time-series store not ready; retrying'),
    onReady: () => logger.info('time-series store ready'),
  });
}
