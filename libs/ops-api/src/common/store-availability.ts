import { randomUUID } from 'node:crypto';
import { HttpException, ServiceUnavailableException } from '@nestjs/common';
import type { Logger } from '@ioc/runtime';
import { InvalidQueryError, type TimeSeriesStore } from '@ioc/timeseries';

/** The `reason` of the 503 answered while the time-series store does not answer. */
export const STORAGE_UNAVAILABLE = 'storage-unavailable';

/**
 * Runs `call` on the time-series store. When it fails and the store does not answer a ping
 * either (InfluxDB stopped or unreachable, the embedded store's worker gone), the request gets
 * a 503 with `reason: storage-unavailable` and a message saying what still works, instead of a
 * bare 500; the error itself is logged under the answer's `correlationId`. A failure while the
 * store does answer is a fault of the request or the API and is rethrown as it is (a 400 for an
 * HttpException, otherwise the exception filter's 500). Adds one ping (InfluxDB: `GET /ping`,
 * bounded by the store's request timeout, 10 s by default) to failed calls only.
 */
export async function whileStoreAnswers<T>(
  store: TimeSeriesStore,
  logger: Logger,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof HttpException || error instanceof InvalidQueryError) throw error;
    if (await store.ping().catch(() => false)) throw error;
    const correlationId = randomUUID();
    logger.warn({ err: error, correlationId, storage: store.kind }, 'time-series store does not answer');
    throw new ServiceUnavailableException({
      statusCode: 503,
      error: 'Service Unavailable',
      reason: STORAGE_UNAVAILABLE,
      message: `The time-series store (${store.kind}) does not answer: latest values and history are unavailable until it does. Live readings still arrive on the socket.io namespace /live.`,
      correlationId,
    });
  }
}
