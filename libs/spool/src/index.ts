export * from './durable-spool';
export * from './batching-writer';
export * from './durable-reading-sink';
export * from './reading-json';
export * from './spool-lock';
