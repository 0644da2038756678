import { ConfigError, parseEnv } from '@ioc/runtime';
import { z } from 'zod';
import { alertEngineEnvShape, alertEngineSettings } from './alerting-env';

const schema = z.object(alertEngineEnvShape);

describe('alertEngineSettings: the lease numbers', () => {
  it('defaults to a 15 s lease renewed every 4 s and a stream capped at 100 000 entries', () => {
    expect(alertEngineSettings(parseEnv(schema, {}))).toMatchObject({
      leaseMs: 15_000,
      leaseRenewMs: 4000,
      streamMaxEntries: 100_000,
    });
  });

  it('refuses a renewal interval that is not under a third of the lease, naming the variable', () => {
    const env = parseEnv(schema, { IOC_ALERT_LEASE_MS: '3000', IOC_ALERT_LEASE_RENEW_MS: '1000' });
    expect(() => alertEngineSettings(env)).toThrow(ConfigError);
    expect(() => alertEngineSettings(env)).toThrow(/IOC_ALERT_LEASE_RENEW_MS/);
    const ok = parseEnv(schema, { IOC_ALERT_LEASE_MS: '3000', IOC_ALERT_LEASE_RENEW_MS: '999' });
    expect(alertEngineSettings(ok)).toMatchObject({ leaseMs: 3000, leaseRenewMs: 999 });
  });
});
