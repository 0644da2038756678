export * from './destination-guard';
export * from './notify-error';
export * from './outbox';
export * from './subscriptions';
export * from './webhook-endpoints';
export * from './webhook-secrets';
export * from './webhook-sender';
