import type { ConsoleLocale } from '@ioc/contracts';

/**
 * Numbers and times in the language's conventions (`vi-VN`: `1.234,5`, `14:05:09 30/11/2026` — CLDR puts the time first in Vietnamese),
 * always in Vietnam time (Asia/Ho_Chi_Minh, UTC+7, no daylight saving) whatever the PC's zone.
 */
export const CONSOLE_TIME_ZONE = 'Asia/Ho_Chi_Minh';

const BCP47: Readonly<Record<ConsoleLocale, string>> = { vi: 'vi-VN', en: 'en-GB' };
const numberFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** `value` with at most `maxFractionDigits` decimals (default 2), grouped as the language groups. */
export function formatNumber(value: number, locale: ConsoleLocale, maxFractionDigits = 2): string {
  const key = `${locale}/${maxFractionDigits}`;
  let format = numberFormats.get(key);
  if (format === undefined) {
    format = new Intl.NumberFormat(BCP47[locale], { maximumFractionDigits: maxFractionDigits });
    numberFormats.set(key, format);
  }
  return format.format(value);
}

/** An instant (epoch ms or ISO string) as date and time, or time only (`style: 'time'`), in Vietnam time. */
export function formatDateTime(
  instant: number | string,
  locale: ConsoleLocale,
  style: 'datetime' | 'time' | 'date' = 'datetime',
): string {
  const key = `${locale}/${style}`;
  let format = dateFormats.get(key);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(BCP47[locale], {
      timeZone: CONSOLE_TIME_ZONE,
      hour12: false,
      ...(style === 'time' ? {} : { day: '2-digit', month: '2-digit', year: 'numeric' }),
      ...(style === 'date' ? {} : { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
    });
    dateFormats.set(key, format);
  }
  return format.format(typeof instant === 'number' ? instant : Date.parse(instant));
}
