import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseEnv } from '@ioc/runtime';
import { accessEnvShape, accessSettings, defaultTokenSecretPath, loadTokenSecret } from './access-env';

describe('access configuration', () => {
  const schema = z.object(accessEnvShape);

  it('has the design defaults, and every variable is described', () => {
    const env = parseEnv(schema, {});
    expect(env).toEqual({
      IOC_ADMIN_USERNAME: 'admin',
      IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS: 900,
      IOC_AUTH_SESSION_IDLE_MINUTES: 30,
      IOC_AUTH_SESSION_MAX_HOURS: 12,
      IOC_AUTH_LOCKOUT_ATTEMPTS: 5,
      IOC_AUTH_LOCKOUT_MINUTES: 15,
      IOC_AUTH_ADDRESS_MAX_FAILURES: 20,
    });
    expect(accessSettings(env)).toEqual({
      accessTokenTtlSeconds: 900,
      sessionIdleMs: 30 * 60_000,
      sessionMaxMs: 12 * 3_600_000,
      lockoutAttempts: 5,
      lockoutMs: 15 * 60_000,
      addressMaxFailures: 20,
    });
    for (const [name, field] of Object.entries(accessEnvShape))
      expect([name, field.description]).toEqual([name, expect.any(String)]);
  });

  it('refuses a malformed admin username and non-positive durations', () => {
    expect(() =>
      parseEnv(schema, { IOC_ADMIN_USERNAME: 'no spaces', IOC_AUTH_LOCKOUT_MINUTES: '0' }),
    ).toThrow(/IOC_ADMIN_USERNAME[\s\S]*IOC_AUTH_LOCKOUT_MINUTES/);
  });

  it('loads the token secret from IOC_AUTH_TOKEN_SECRET or the key file under the data directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioc-access-'));
    try {
      const generated = loadTokenSecret({ dataDir: dir });
      expect(generated).toHaveLength(32);
      expect(defaultTokenSecretPath(dir)).toBe(join(dir, 'keys', 'auth-token.key'));
      expect(loadTokenSecret({ dataDir: dir, configured: '' }).equals(generated)).toBe(true);
      const configured = Buffer.alloc(32, 9).toString('base64');
      expect(loadTokenSecret({ dataDir: dir, configured }).equals(Buffer.alloc(32, 9))).toBe(true);
      expect(() => loadTokenSecret({ dataDir: dir, configured: 'c2hvcnQ=' })).toThrow(
        /IOC_AUTH_TOKEN_SECRET/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
