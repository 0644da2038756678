export * from './api-config';
export * from './openapi';
export * from './ops-api.module';
export * from './registry-port';
export * from './edge/edge-config';
export { EdgeIoAdapter, HELMET_OPTIONS, setupHttpEdge } from './edge/http-edge';
export { LoginRateLimit, NoRateLimit, RATE_LIMITED } from './edge/rate-limit';
