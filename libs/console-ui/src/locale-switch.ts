import type { ConsoleLocale } from '@ioc/contracts';
import { defineMessages, type I18n } from '@ioc/console-data';
import { h } from './dom-builder';

/** The language switch's texts: each language is named in itself. */
export const LOCALE_SWITCH_MESSAGES = defineMessages({
  vi: { switchTo: 'English', label: 'Switch the console to English' },
  en: { switchTo: 'Tiếng Việt', label: 'Chuyển giao diện sang tiếng Việt' },
});

/** The other console language. */
export function otherLocale(locale: ConsoleLocale): ConsoleLocale {
  return locale === 'vi' ? 'en' : 'vi';
}

/**
 * A button `[data-testid=locale-switch]` that switches between Vietnamese and English (the login
 * page and the header each have one). Persisting the choice is the page's (main.ts).
 */
export function createLocaleSwitch(i18n: I18n): { element: HTMLButtonElement; destroy(): void } {
  const button = h('button', { type: 'button', class: 'ioc-locale-switch', 'data-testid': 'locale-switch' });
  const render = (): void => {
    button.textContent = i18n.t(LOCALE_SWITCH_MESSAGES, 'switchTo');
    button.setAttribute('aria-label', i18n.t(LOCALE_SWITCH_MESSAGES, 'label'));
    button.lang = otherLocale(i18n.locale);
  };
  button.addEventListener('click', () => i18n.setLocale(otherLocale(i18n.locale)));
  render();
  const stop = i18n.onChange(render);
  return { element: button, destroy: stop };
}
