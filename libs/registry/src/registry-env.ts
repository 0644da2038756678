import { databaseEnvShape } from '@ioc/database';
import { credentialKeyEnvShape } from './credential-key';

/**
 * Environment variables of the registry every platform process reads: the database
 * (IOC_DATABASE_URL, IOC_DATABASE_POOL_SIZE) and the device credential key
 * (IOC_DEVICE_CREDENTIAL_KEY).
 */
export const registryEnvShape = {
  ...databaseEnvShape,
  ...credentialKeyEnvShape,
};
