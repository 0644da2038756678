import type { ConsoleLocale } from '@ioc/contracts';

/**
 * The console's languages: Vietnamese by default, English by choice. Each component keeps its own
 * message catalogue (`defineMessages`) next to its code, so adding a panel never edits a shared
 * dictionary; domain, device type, metric, status and severity names live in `labels.ts`.
 */

/** Messages of one language: key → template; `{name}` is replaced by the parameter `name`. */
export type Messages = Readonly<Record<string, string>>;

/** One component's messages in every console language (the same keys in each). */
export type Catalogue<K extends string = string> = Readonly<
  Record<ConsoleLocale, Readonly<Record<K, string>>>
>;

/** Declares a catalogue; TypeScript checks that English has exactly Vietnamese's keys. */
export function defineMessages<K extends string>(catalogue: {
  vi: Readonly<Record<K, string>>;
  en: Readonly<Record<K, string>>;
}): Catalogue<K> {
  return catalogue;
}

/** Fills `{name}` placeholders; a placeholder without a parameter is left as it is. */
export function interpolate(template: string, params?: Readonly<Record<string, string | number>>): string {
  if (params === undefined) return template;
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The page's current language, with change notification (the header's language switch). */
export class I18n {
  private current: ConsoleLocale;
  private readonly listeners = new Set<(locale: ConsoleLocale) => void>();

  constructor(locale: ConsoleLocale = 'vi') {
    this.current = locale;
  }

  get locale(): ConsoleLocale {
    return this.current;
  }

  /** Switches language and tells every listener (components re-render their texts). */
  setLocale(locale: ConsoleLocale): void {
    if (locale === this.current) return;
    this.current = locale;
    for (const listener of this.listeners) listener(locale);
  }

  /** Calls `listener` after each language change; returns the function that stops it. */
  onChange(listener: (locale: ConsoleLocale) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A message of `catalogue` in the current language, placeholders filled. */
  t<K extends string>(
    catalogue: Catalogue<K>,
    key: K,
    params?: Readonly<Record<string, string | number>>,
  ): string {
    return interpolate(catalogue[this.current][key], params);
  }
}
