export const LANGUAGES = ['en', 'es'] as const;
export type Language = (typeof LANGUAGES)[number];

const isLanguage = (value: string | null | undefined): value is Language => (LANGUAGES as readonly string[]).includes(value ?? '');

/**
 * `?lang=` first (a link someone shared, the language switcher), then the choice made earlier in this
 * tab, then the browser's languages in order (what it sends as Accept-Language), then English.
 */
export function chooseLanguage(query: string | null, remembered: string | null, preferred: readonly string[]): Language {
  if (isLanguage(query)) return query;
  if (isLanguage(remembered)) return remembered;
  for (const tag of preferred) {
    const primary = tag.toLowerCase().split('-')[0];
    if (isLanguage(primary)) return primary;
  }
  return 'en';
}
