export * from './internal-bus-client';
export { ReadingBatch, type InvalidBusMessage } from './reading-batch';
export * from './service-client-id';
export * from './internal-secret';
