import { chooseLanguage, type Language } from './language.js';
import { MESSAGES, type MessageKey } from './messages.js';

const REMEMBERED = 'otp-gateway.lang';

export const language: Language = chooseLanguage(
  new URLSearchParams(location.search).get('lang'),
  sessionStorage.getItem(REMEMBERED),
  navigator.languages.length > 0 ? navigator.languages : [navigator.language],
);
sessionStorage.setItem(REMEMBERED, language);

export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  return MESSAGES[language][key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

export function isMessageKey(key: string): key is MessageKey {
  return key in MESSAGES.en;
}

/** `27 seconds`, `11 minutes`, in the page's language. */
export function duration(seconds: number): string {
  const [value, unit] = seconds >= 120 ? [Math.ceil(seconds / 60), 'minute'] : [Math.max(1, Math.ceil(seconds)), 'second'];
  return new Intl.NumberFormat(language, { style: 'unit', unit, unitDisplay: 'long' }).format(value);
}

/**
 * The HTML carries the English text; every element with `data-i18n` gets the chosen language's, and
 * `data-i18n-label` sets an accessible name. The language links mark the current one.
 */
export function translatePage(): void {
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll<HTMLElement>('[data-i18n]')) {
    const key = element.dataset.i18n ?? '';
    if (isMessageKey(key)) element.textContent = t(key);
  }
  for (const element of document.querySelectorAll<HTMLElement>('[data-i18n-label]')) {
    const key = element.dataset.i18nLabel ?? '';
    if (isMessageKey(key)) element.setAttribute('aria-label', t(key));
  }
  for (const link of document.querySelectorAll<HTMLAnchorElement>('a[hreflang]')) {
    if (link.hreflang === language) link.setAttribute('aria-current', 'true');
    else link.removeAttribute('aria-current');
  }
}
