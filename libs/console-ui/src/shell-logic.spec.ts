import type { AreaBody } from '@ioc/contracts';
import { ApiError, I18n, type Catalogue } from '@ioc/console-data';
import {
  ALERTS_MESSAGES,
  ackNoteRefusal,
  alertMatchesFilter,
  areaFilterOptions,
  needsCriticalSignal,
} from './alerts-panel';
import { SHELL_MESSAGES, scopeSummary, tabAfterKey } from './app-shell';
import { LOCALE_SWITCH_MESSAGES, otherLocale } from './locale-switch';
import { LOGIN_MESSAGES, endedMessage, loginErrorMessage, renderLoginMessage } from './login-view';
import { OVERVIEW_MESSAGES } from './overview-strip';

describe('message catalogues', () => {
  const catalogues: Record<string, Catalogue> = {
    LOGIN_MESSAGES,
    SHELL_MESSAGES,
    OVERVIEW_MESSAGES,
    ALERTS_MESSAGES,
    LOCALE_SWITCH_MESSAGES,
  };
  it.each(Object.keys(catalogues))('%s has every key in both languages, none empty', (name) => {
    const { vi, en } = catalogues[name]!;
    expect(Object.keys(en).sort()).toEqual(Object.keys(vi).sort());
    for (const text of [...Object.values(vi), ...Object.values(en)]) expect(text.trim()).not.toBe('');
  });

  it('uses the same placeholders in both languages', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const catalogue of Object.values(catalogues))
      for (const key of Object.keys(catalogue.vi))
        expect([key, placeholders(catalogue.en[key]!)]).toEqual([key, placeholders(catalogue.vi[key]!)]);
  });
});

describe('login errors', () => {
  const i18n = new I18n('vi');
  const refusal = (status: number, reason: string, retryAfter: number | null = null) =>
    new ApiError(status, { statusCode: status, error: 'x', reason, message: 'refused' }, retryAfter);

  it('names each refusal the API gives, with the Retry-After wait', () => {
    expect(renderLoginMessage(i18n, loginErrorMessage(refusal(401, 'invalid-credentials')))).toBe(
      'Sai tên đăng nhập hoặc mật khẩu.',
    );
    expect(renderLoginMessage(i18n, loginErrorMessage(refusal(401, 'account-locked', 900)))).toContain(
      '15 phút',
    );
    expect(renderLoginMessage(i18n, loginErrorMessage(refusal(401, 'account-locked')))).toContain(
      'Vui lòng thử lại sau',
    );
    expect(renderLoginMessage(i18n, loginErrorMessage(refusal(429, 'address-throttled', 30)))).toContain(
      '30 giây',
    );
    expect(loginErrorMessage(refusal(429, 'rate-limited', 5))).toEqual({
      key: 'rate-limited',
      waitSeconds: 5,
    });
    expect(loginErrorMessage(new TypeError('Failed to fetch'))).toEqual({ key: 'network' });
    expect(renderLoginMessage(i18n, loginErrorMessage(refusal(500, 'boom')))).toBe(
      'Đăng nhập không thành công (500): refused',
    );
  });

  it('explains why the previous session ended, in the current language', () => {
    const en = new I18n('en');
    expect(renderLoginMessage(en, endedMessage('logout'))).toBe('You have logged out.');
    expect(renderLoginMessage(en, endedMessage('api-key-revoked'))).toContain('(api-key-revoked)');
  });
});

describe('shell', () => {
  it('moves between tabs with the arrow keys, wrapping, and Home/End (WAI-ARIA tabs)', () => {
    expect(tabAfterKey('alerts', 'ArrowRight')).toBe('device');
    expect(tabAfterKey('cameras', 'ArrowRight')).toBe('alerts');
    expect(tabAfterKey('alerts', 'ArrowLeft')).toBe('cameras');
    expect(tabAfterKey('device', 'Home')).toBe('alerts');
    expect(tabAfterKey('alerts', 'End')).toBe('cameras');
    expect(tabAfterKey('alerts', 'a')).toBeUndefined();
  });

  it('summarises a scope by agency, domain names and area names', () => {
    const i18n = new I18n('vi');
    const names = (id: string) => ({ 'hoa-thanh': 'Thị xã Hòa Thành' })[id] ?? id;
    expect(scopeSummary(i18n, { scope: null }, names)).toBe('Toàn tỉnh');
    expect(
      scopeSummary(
        i18n,
        { scope: { domains: ['env', 'traffic'], areas: ['hoa-thanh'] }, agencyId: 'so-tnmt' },
        names,
      ),
    ).toBe('Đơn vị: so-tnmt · Lĩnh vực: Môi trường, Giao thông · Địa bàn: Thị xã Hòa Thành');
    expect(otherLocale('vi')).toBe('en');
  });
});

describe('alerts panel logic', () => {
  const alert: Parameters<typeof alertMatchesFilter>[0] = {
    areaId: 'xa-1',
    areaPath: ['tay-ninh', 'hoa-thanh', 'xa-1'],
    domain: 'env',
    severity: 'critical',
  };

  it('filters by an area or any ancestor, domain and severity together', () => {
    const none = { area: null, domain: null, severity: null };
    expect(alertMatchesFilter(alert, none)).toBe(true);
    expect(alertMatchesFilter(alert, { ...none, area: 'hoa-thanh' })).toBe(true);
    expect(alertMatchesFilter(alert, { ...none, area: 'go-dau' })).toBe(false);
    expect(alertMatchesFilter(alert, { ...none, domain: 'traffic' })).toBe(false);
    expect(alertMatchesFilter(alert, { area: 'tay-ninh', domain: 'env', severity: 'critical' })).toBe(true);
    expect(alertMatchesFilter(alert, { ...none, severity: 'warning' })).toBe(false);
  });

  it('offers the top-level areas the principal sees and their children', () => {
    const area = (id: string, name: string, parentId: string | null): AreaBody => ({
      id,
      name,
      level: 'x',
      parentId,
    });
    const options = areaFilterOptions([
      area('xa-1', 'Xã Một', 'hoa-thanh'),
      area('hoa-thanh', 'Thị xã Hòa Thành', 'tay-ninh'),
      area('go-dau', 'Huyện Gò Dầu', 'tay-ninh'),
      area('tay-ninh', 'Tỉnh Tây Ninh', null),
    ]);
    expect(options).toEqual([
      { id: 'tay-ninh', name: 'Tỉnh Tây Ninh', depth: 0 },
      { id: 'go-dau', name: 'Huyện Gò Dầu', depth: 1 },
      { id: 'hoa-thanh', name: 'Thị xã Hòa Thành', depth: 1 },
    ]);
    // A scoped principal's tree starts below the province: its own top areas are the roots.
    expect(
      areaFilterOptions([area('xa-1', 'Xã Một', 'hoa-thanh'), area('hoa-thanh', 'Hòa Thành', 'tay-ninh')]),
    ).toEqual([
      { id: 'hoa-thanh', name: 'Hòa Thành', depth: 0 },
      { id: 'xa-1', name: 'Xã Một', depth: 1 },
    ]);
  });

  it('signals a critical alert once, when it fires', () => {
    const signalled = new Set<string>(['old']);
    expect(needsCriticalSignal({ id: 'a', severity: 'critical', state: 'firing' }, signalled)).toBe(true);
    expect(needsCriticalSignal({ id: 'old', severity: 'critical', state: 'firing' }, signalled)).toBe(false);
    expect(needsCriticalSignal({ id: 'b', severity: 'critical', state: 'pending' }, signalled)).toBe(false);
    expect(needsCriticalSignal({ id: 'c', severity: 'warning', state: 'firing' }, signalled)).toBe(false);
  });
});

describe('acknowledgement note check', () => {
  it('refuses control and bidirectional characters in the UI language before sending', () => {
    expect(ackNoteRefusal('Đã cử đội xử lý', 'vi')).toBeNull();
    expect(ackNoteRefusal('ok\u202egnp.exe', 'vi')).toBe(
      'Ghi chú chứa ký tự điều khiển hướng chữ U+202E ở vị trí 3; hãy xoá ký tự đó.',
    );
    expect(ackNoteRefusal('a\u0007', 'en')).toBe(
      'The note contains the control character U+0007 at position 2; remove it.',
    );
    expect(ackNoteRefusal('x'.repeat(1001), 'vi')).toBe('Ghi chú dài quá 1000 ký tự.');
  });
});
