/**
 * A reading no store can keep as it is (bad timestamp, non-finite number, a metric name reserved
 * by the storage layout…). Thrown by `write()` before anything is written; `readingIndex` points
 * at the culprit in the batch so a caller such as the BatchingWriter can set it aside and write
 * the rest, instead of retrying a batch that can never succeed.
 */
export class InvalidReadingError extends Error {
  override readonly name = 'InvalidReadingError';
  constructor(
    message: string,
    readonly readingIndex: number,
  ) {
    super(message);
  }
}

/** A history query that cannot be answered as asked (e.g. mean of a boolean metric). */
export class InvalidQueryError extends Error {
  override readonly name = 'InvalidQueryError';
}
