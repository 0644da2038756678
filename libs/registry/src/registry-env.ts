import { z } from 'zod';
import { databaseEnvShape } from '@ioc/database';

/**
 * Environment variables of the registry every platform process reads: the database
 * (IOC_DATABASE_URL, IOC_DATABASE_POOL_SIZE) and the device credential key.
 */
export const registryEnvShape = {
  ...databaseEnvShape,
  IOC_DEVICE_CREDENTIAL_KEY: z
    .string()
    .optional()
    .describe(
      'Key device secrets are hashed with (HMAC-SHA256), base64 or hex of at least 32 bytes; the same on every broker and API node. Unset: generated once into IOC_DATA_DIR/keys/device-credential.key; secret',
    ),
};
