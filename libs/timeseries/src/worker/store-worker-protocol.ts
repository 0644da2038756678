import { InvalidQueryError, InvalidReadingError } from '../errors';
import type { TimeSeriesStore } from '../time-series-store';

/** The port's methods a worker-backed store forwards; `kind` is known without asking. */
export type StoreMethod = Exclude<keyof TimeSeriesStore, 'kind'>;

export interface StoreCall {
  id: number;
  method: StoreMethod;
  /**
   * The method's arguments (structured clone), except for `write`, whose readings travel as one
   * `v8.serialize` buffer whose memory is transferred: half the main-thread cost of a clone.
   */
  args: unknown[];
}

export type StoreAnswer =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** An Error as it crosses the thread boundary, enough to rebuild the classes callers test for. */
export interface WireError {
  name: string;
  message: string;
  readingIndex?: number;
}

export function toWireError(error: unknown): WireError {
  if (error instanceof InvalidReadingError)
    return { name: error.name, message: error.message, readingIndex: error.readingIndex };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

const BUILT_IN_ERRORS: Record<string, ErrorConstructor> = { RangeError, TypeError, SyntaxError };

/** The caller sees the same error classes as with the store on its own thread. */
export function fromWireError(wire: WireError): Error {
  if (wire.name === 'InvalidReadingError' && wire.readingIndex !== undefined)
    return new InvalidReadingError(wire.message, wire.readingIndex);
  if (wire.name === 'InvalidQueryError') return new InvalidQueryError(wire.message);
  // Argument checks throw the built-in classes (RangeError for an impossible window, …).
  const BuiltIn = (Object.hasOwn(BUILT_IN_ERRORS, wire.name) && BUILT_IN_ERRORS[wire.name]) || Error;
  const error = new BuiltIn(wire.message);
  if (error.name !== wire.name) error.name = wire.name;
  return error;
}
