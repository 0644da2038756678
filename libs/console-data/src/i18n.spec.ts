import { I18n, defineMessages, interpolate } from './i18n';
import { ALERT_STATE_LABELS, DOMAIN_LABELS, METRIC_LABELS, SEVERITY_LABELS, STATUS_LABELS } from './labels';

describe('I18n', () => {
  const messages = defineMessages({
    vi: { hello: 'Xin chào {name}', count: '{n} thiết bị' },
    en: { hello: 'Hello {name}', count: '{n} devices' },
  });

  it('speaks Vietnamese by default and tells listeners when the language changes', () => {
    const i18n = new I18n();
    const seen: string[] = [];
    i18n.onChange((locale) => seen.push(locale));
    expect(i18n.t(messages, 'hello', { name: 'Ninh' })).toBe('Xin chào Ninh');
    i18n.setLocale('en');
    i18n.setLocale('en');
    expect(i18n.t(messages, 'count', { n: 3 })).toBe('3 devices');
    expect(seen).toEqual(['en']);
  });

  it('leaves a placeholder without a parameter as it is', () => {
    expect(interpolate('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });

  it('names every domain, status, severity, alert state and metric in both languages', () => {
    for (const table of [DOMAIN_LABELS, STATUS_LABELS, SEVERITY_LABELS, ALERT_STATE_LABELS, METRIC_LABELS])
      for (const label of Object.values(table)) {
        expect(label.vi.trim()).not.toBe('');
        expect(label.en.trim()).not.toBe('');
      }
  });
});
