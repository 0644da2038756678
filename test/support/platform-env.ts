import type { z } from 'zod';
import { brokerProcessEnvSchema } from '@ioc/ingest';
import { apiEnvSchema } from '@ioc/ops-api';

/**
 * The environment schema of each platform process, as the apps parse it at start
 * (apps/broker: brokerProcessEnvSchema; apps/api: apiEnvSchema). Deployment manifests
 * (deploy/docker-compose.yml, the Helm chart) and the multi-node tests set variables of these
 * schemas only; test/deploy-manifests.spec.ts checks them against it.
 */
export const PLATFORM_ENV_SCHEMAS = {
  broker: brokerProcessEnvSchema,
  api: apiEnvSchema,
} as const satisfies Record<string, z.ZodObject>;

/** A platform process kind: what the image's command starts (apps/<kind>/src/main.ts). */
export type PlatformProcess = keyof typeof PLATFORM_ENV_SCHEMAS;

/** The variable names a process reads (the keys of its schema). */
export function envVariablesOf(process: PlatformProcess): Set<string> {
  return new Set(Object.keys(PLATFORM_ENV_SCHEMAS[process].shape));
}
