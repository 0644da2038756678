import { createHmac, hkdfSync } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, parseEnv } from '@ioc/runtime';
import { mapOidcClaims, MAX_OIDC_NAME_LENGTH } from './oidc-claims';
import { oidcEnvShape, oidcSettingsFromEnv, parseRoleMap, type OidcEnv } from './oidc-settings';
import { OidcStateCookie, type OidcLoginState } from './oidc-state-cookie';

const env = (vars: Record<string, string>): OidcEnv => parseEnv(z.object(oidcEnvShape), vars);

const SSO = {
  IOC_OIDC_ISSUER: 'https://sso.example.gov.vn/realms/province',
  IOC_OIDC_CLIENT_ID: 'ioc',
  IOC_OIDC_CLIENT_SECRET: 'client-secret',
  IOC_OIDC_REDIRECT_URI: 'https://ioc.example.gov.vn/api/v1/auth/oidc/callback',
  IOC_OIDC_ROLE_MAP: 'ioc-admins=admin,ioc-operators=operator,staff=viewer',
};

describe('IOC_OIDC_ROLE_MAP', () => {
  it('reads value=role pairs, the value being everything before the last "="', () => {
    expect([...parseRoleMap(' ioc-admins=admin , /ioc/ops=operator,a=b=viewer ')]).toEqual([
      ['ioc-admins', 'admin'],
      ['/ioc/ops', 'operator'],
      ['a=b', 'viewer'],
    ]);
  });

  it('reads the JSON form for values holding "," or "=" (an LDAP DN)', () => {
    expect([...parseRoleMap('{"cn=admins,ou=groups,dc=tn": "admin"}')]).toEqual([
      ['cn=admins,ou=groups,dc=tn', 'admin'],
    ]);
  });

  it.each([
    ['ioc-admins=root', /role must be one of viewer, operator, admin/],
    ['ioc-admins', /not value=role/],
    ['=admin', /no claim value/],
    ['a=admin,a=viewer', /"a" is mapped twice/],
    [' , ', /maps no value/],
    ['{"a": "superuser"}', /role must be one of/],
    ['{not json', /not valid JSON/],
    ['["a"]', /must be an object/],
  ])('refuses %j', (text, message) => {
    expect(() => parseRoleMap(text)).toThrow(message);
  });
});

describe('SSO settings from the environment', () => {
  it('is off without an issuer, whatever else is set', () => {
    expect(oidcSettingsFromEnv(env({ IOC_OIDC_CLIENT_ID: 'x' }))).toBeNull();
  });

  it('applies the documented defaults', () => {
    const settings = oidcSettingsFromEnv(env(SSO));
    expect(settings).toMatchObject({
      scopes: ['openid', 'profile', 'email'],
      roleClaim: 'groups',
      usernameClaim: 'preferred_username',
      agencyClaim: null,
      postLoginUrl: '/',
      postLogoutRedirectUri: null,
      allowHttp: false,
    });
    expect(settings?.roleMap.get('ioc-operators')).toBe('operator');
  });

  it('names every missing variable at once', () => {
    const error = (() => {
      try {
        oidcSettingsFromEnv(env({ IOC_OIDC_ISSUER: SSO.IOC_OIDC_ISSUER }));
      } catch (e) {
        return e;
      }
      return undefined;
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems.map((p) => p.split(':')[0])).toEqual([
      'IOC_OIDC_CLIENT_ID',
      'IOC_OIDC_CLIENT_SECRET',
      'IOC_OIDC_REDIRECT_URI',
      'IOC_OIDC_ROLE_MAP',
    ]);
  });

  it('refuses an http:// issuer unless IOC_OIDC_ALLOW_HTTP is set', () => {
    const http = { ...SSO, IOC_OIDC_ISSUER: 'http://127.0.0.1:8080' };
    expect(() => oidcSettingsFromEnv(env(http))).toThrow(/must be https/);
    expect(oidcSettingsFromEnv(env({ ...http, IOC_OIDC_ALLOW_HTTP: 'true' }))?.allowHttp).toBe(true);
  });

  it('refuses scopes without openid, a post-login URL off the site and a bad role map', () => {
    expect(() => env({ ...SSO, IOC_OIDC_SCOPES: 'profile email' })).toThrow(
      /IOC_OIDC_SCOPES: must include "openid"/,
    );
    expect(() => env({ ...SSO, IOC_OIDC_POST_LOGIN_URL: '//evil.example/' })).toThrow(
      /IOC_OIDC_POST_LOGIN_URL/,
    );
    expect(() => env({ ...SSO, IOC_OIDC_POST_LOGIN_URL: 'https://evil.example/' })).toThrow(
      /IOC_OIDC_POST_LOGIN_URL/,
    );
    expect(() => env({ ...SSO, IOC_OIDC_POST_LOGIN_URL: '/\\evil.example/' })).toThrow(
      /IOC_OIDC_POST_LOGIN_URL/,
    );
    expect(env({ ...SSO, IOC_OIDC_POST_LOGIN_URL: '/console/#/map' }).IOC_OIDC_POST_LOGIN_URL).toBe(
      '/console/#/map',
    );
    expect(() => oidcSettingsFromEnv(env({ ...SSO, IOC_OIDC_ROLE_MAP: 'x=god' }))).toThrow(
      /IOC_OIDC_ROLE_MAP: "x=god"/,
    );
  });
});

describe('mapping an SSO login’s claims', () => {
  const settings = oidcSettingsFromEnv(env({ ...SSO, IOC_OIDC_AGENCY_CLAIM: 'agency' }))!;

  it('gives the highest role any value of an array claim maps to', () => {
    const mapped = mapOidcClaims(
      {
        sub: 'u-1',
        preferred_username: 'lan.tran',
        name: 'Trần Thị Lan',
        groups: ['staff', 'ioc-admins', 'ioc-operators', 'other'],
      },
      settings,
    );
    expect(mapped).toEqual({
      ok: true,
      identity: {
        subject: 'u-1',
        username: 'lan.tran',
        displayName: 'Trần Thị Lan',
        role: 'admin',
        agencyId: null,
        email: null,
        matchedValues: ['staff', 'ioc-admins', 'ioc-operators'],
      },
    });
  });

  it('reads a string claim as one value, a dotted path into nested claims, the agency and e-mail', () => {
    const nested = { ...settings, roleClaim: 'realm_access.roles' };
    const mapped = mapOidcClaims(
      { sub: 'u-2', realm_access: { roles: ['ioc-operators'] }, agency: 'dae', email: 'a@b.vn' },
      nested,
    );
    expect(mapped.ok && mapped.identity).toMatchObject({
      role: 'operator',
      username: 'u-2',
      agencyId: 'dae',
      email: 'a@b.vn',
    });
    expect(mapOidcClaims({ sub: 'u-3', groups: 'staff' }, settings)).toMatchObject({
      ok: true,
      identity: { role: 'viewer' },
    });
    // A claim whose name holds a dot is read as it is before it is read as a path.
    expect(mapOidcClaims({ sub: 'u-4', 'x.y': 'staff' }, { ...settings, roleClaim: 'x.y' })).toMatchObject({
      ok: true,
    });
  });

  it('falls back to sub for the username and to the username for the display name', () => {
    const mapped = mapOidcClaims({ sub: 'u-5', preferred_username: '  ', groups: ['staff'] }, settings);
    expect(mapped.ok && mapped.identity).toMatchObject({ username: 'u-5', displayName: 'u-5' });
  });

  it('refuses a login with no mapped role, naming the values it had', () => {
    const mapped = mapOidcClaims(
      { sub: 'u-6', preferred_username: 'bob', groups: ['Ioc-Admins', 7] },
      settings,
    );
    expect(mapped).toMatchObject({
      ok: false,
      reason: 'no-mapped-role',
      subject: 'u-6',
      username: 'bob',
      roleValues: ['Ioc-Admins'],
    });
    expect(!mapped.ok && mapped.message).toMatch(
      /no role for "bob": the "groups" claim has only "Ioc-Admins"/,
    );
    expect(mapOidcClaims({ sub: 'u-7' }, settings)).toMatchObject({
      ok: false,
      reason: 'no-mapped-role',
      message: expect.stringMatching(/has no value/),
    });
  });

  it('refuses claims without sub or with an over-long name', () => {
    expect(mapOidcClaims({ groups: ['ioc-admins'] }, settings)).toMatchObject({
      ok: false,
      reason: 'bad-claims',
    });
    const long = 'x'.repeat(MAX_OIDC_NAME_LENGTH + 1);
    expect(mapOidcClaims({ sub: 'u-8', name: long, groups: ['ioc-admins'] }, settings)).toMatchObject({
      ok: false,
      reason: 'bad-claims',
    });
  });
});

describe('the login-state cookie', () => {
  const secret = Buffer.alloc(32, 7);
  const state: OidcLoginState = { state: 's', nonce: 'n', codeVerifier: 'v', expiresAt: 2_000 };

  it('opens what it sealed, on any node with the same secret, until it expires', () => {
    const sealed = new OidcStateCookie(secret).seal(state);
    expect(new OidcStateCookie(Buffer.from(secret)).open(sealed, 1_999)).toEqual(state);
    expect(new OidcStateCookie(secret).open(sealed, 2_000)).toBe('oidc-state-expired');
  });

  it('refuses a missing, tampered, foreign or malformed cookie', () => {
    const cookie = new OidcStateCookie(secret);
    const sealed = cookie.seal(state);
    expect(cookie.open(undefined, 0)).toBe('oidc-state-missing');
    expect(cookie.open('', 0)).toBe('oidc-state-missing');
    const [body, mac] = sealed.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...state, expiresAt: 9e15 })).toString('base64url');
    expect(cookie.open(`${forged}.${mac}`, 0)).toBe('oidc-state-invalid');
    expect(cookie.open(`${body}.${mac.slice(1)}`, 0)).toBe('oidc-state-invalid');
    expect(cookie.open(body, 0)).toBe('oidc-state-invalid');
    expect(new OidcStateCookie(Buffer.alloc(32, 8)).open(sealed, 0)).toBe('oidc-state-invalid');
    // Signed with the right key (the documented derivation) but not a login state.
    const junk = Buffer.from('{"state":1}').toString('base64url');
    const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'ioc oidc login state', 32));
    expect(cookie.open(`${junk}.${createHmac('sha256', key).update(junk).digest('base64url')}`, 0)).toBe(
      'oidc-state-invalid',
    );
  });

  it('needs a secret of 32 bytes or more', () => {
    expect(() => new OidcStateCookie(Buffer.alloc(31))).toThrow(/at least 32 bytes/);
  });
});
