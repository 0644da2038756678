import { scopeHoldsDevice } from '@ioc/contracts';
import type { AccountRecord } from './accounts';
import type { AgencyRecord } from './agencies';
import type { ApiKeyRecord } from './api-keys';
import { effectiveScope, principalOfAccount, principalOfApiKey } from './principals';

// prov ─┬─ dist-a ── ward-a1
//       └─ dist-b ── ward-b1
const PARENTS: Record<string, string | null> = {
  prov: null,
  'dist-a': 'prov',
  'ward-a1': 'dist-a',
  'dist-b': 'prov',
  'ward-b1': 'dist-b',
};
const areaPath = (id: string): string[] | undefined => {
  if (!(id in PARENTS)) return undefined;
  const path = [id];
  for (let parent = PARENTS[id]; parent; parent = PARENTS[parent] ?? null) path.unshift(parent);
  return path;
};

describe('effectiveScope', () => {
  it('is null when neither the agency nor the account restricts', () => {
    expect(effectiveScope(null, null, areaPath)).toBeNull();
  });

  it('is the one scope that is set', () => {
    expect(effectiveScope({ domains: ['env'] }, null, areaPath)).toEqual({ domains: ['env'] });
    expect(effectiveScope(null, { areas: ['dist-a'] }, areaPath)).toEqual({ areas: ['dist-a'] });
  });

  it('intersects the domains, and keeps an empty intersection (which holds nothing)', () => {
    expect(
      effectiveScope({ domains: ['env', 'traffic'] }, { domains: ['traffic', 'lighting'] }, areaPath),
    ).toEqual({
      domains: ['traffic'],
    });
    const none = effectiveScope({ domains: ['env'] }, { domains: ['traffic'] }, areaPath);
    expect(none).toEqual({ domains: [] });
    expect(scopeHoldsDevice(none, { domain: 'env', areaPath: ['prov'] })).toBe(false);
  });

  it('keeps, of two area lists, the areas inside a subtree of the other', () => {
    // The agency reads district A; the account is narrowed to ward A1 and district B: only ward A1 remains.
    expect(effectiveScope({ areas: ['dist-a'] }, { areas: ['ward-a1', 'dist-b'] }, areaPath)).toEqual({
      areas: ['ward-a1'],
    });
    // Either way round.
    expect(effectiveScope({ areas: ['ward-a1', 'dist-b'] }, { areas: ['dist-a'] }, areaPath)).toEqual({
      areas: ['ward-a1'],
    });
    // The whole province ∩ two districts = the two districts.
    expect(effectiveScope({ areas: ['prov'] }, { areas: ['dist-a', 'dist-b'] }, areaPath)).toEqual({
      areas: ['dist-a', 'dist-b'],
    });
    // Disjoint subtrees: nothing.
    expect(effectiveScope({ areas: ['dist-a'] }, { areas: ['ward-b1'] }, areaPath)).toEqual({ areas: [] });
  });

  it('combines the axes: domains from one, areas from the other', () => {
    const scope = effectiveScope({ domains: ['env'] }, { areas: ['dist-b'] }, areaPath);
    expect(scope).toEqual({ domains: ['env'], areas: ['dist-b'] });
    expect(scopeHoldsDevice(scope, { domain: 'env', areaPath: ['prov', 'dist-b', 'ward-b1'] })).toBe(true);
    expect(scopeHoldsDevice(scope, { domain: 'env', areaPath: ['prov', 'dist-a'] })).toBe(false);
    expect(scopeHoldsDevice(scope, { domain: 'traffic', areaPath: ['prov', 'dist-b'] })).toBe(false);
  });
});

describe('principals', () => {
  const agency: AgencyRecord = {
    id: 'so-nnmt',
    name: 'Sở Nông nghiệp và Môi trường',
    scope: { domains: ['env'], areas: ['dist-a'] },
    state: 'active',
    createdAt: '2026-11-30T08:00:00.000Z',
    updatedAt: '2026-11-30T08:00:00.000Z',
  };
  const account: AccountRecord = {
    id: 'acc_1',
    username: 'lan.tran',
    displayName: 'Trần Thị Lan',
    role: 'operator',
    source: 'local',
    hasPassword: true,
    agencyId: 'so-nnmt',
    scope: { areas: ['ward-a1'] },
    state: 'active',
    failedLogins: 0,
    createdAt: '2026-11-30T08:00:00.000Z',
    updatedAt: '2026-11-30T08:00:00.000Z',
  };

  it('an agency user acts with its role and the intersection of the scopes', () => {
    expect(principalOfAccount(account, agency, 'ses_1', areaPath)).toEqual({
      kind: 'account',
      id: 'acc_1',
      name: 'lan.tran',
      role: 'operator',
      scope: { domains: ['env'], areas: ['ward-a1'] },
      agencyId: 'so-nnmt',
      sessionId: 'ses_1',
    });
  });

  it('an account without agency or scope reads the whole province', () => {
    const { agencyId: _agencyId, scope: _scope, ...plain } = account;
    expect(principalOfAccount(plain, undefined, undefined, areaPath)).toEqual({
      kind: 'account',
      id: 'acc_1',
      name: 'lan.tran',
      role: 'operator',
      scope: null,
    });
  });

  it('an API key is a viewer with its agency scope', () => {
    const key: ApiKeyRecord = {
      id: 'key_1',
      agencyId: 'so-nnmt',
      name: 'data portal',
      prefix: 'iocak_0123abcd',
      createdAt: '2026-11-30T08:00:00.000Z',
      status: 'active',
    };
    expect(principalOfApiKey(key, agency)).toEqual({
      kind: 'apiKey',
      id: 'key_1',
      name: 'data portal',
      role: 'viewer',
      scope: { domains: ['env'], areas: ['dist-a'] },
      agencyId: 'so-nnmt',
    });
  });
});
