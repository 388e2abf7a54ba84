import type { ApiError, Channel, Result } from './api.js';
import { savePendingChallenge, type Flow } from './challenge.js';
import { duration, isMessageKey, t, translatePage } from './i18n.js';

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

/** The form's live region (`role="status"`): screen readers announce what is written to it. */
export function say(form: HTMLFormElement, text: string, kind: 'info' | 'error' = 'info'): void {
  const region = form.querySelector<HTMLElement>('.message')!;
  region.textContent = text;
  region.classList.toggle('error', kind === 'error');
}

/** Marks one field wrong, says why and puts the cursor in it; every other field is cleared of the mark. */
export function flagField(form: HTMLFormElement, input: HTMLInputElement | undefined, text: string): void {
  for (const field of form.querySelectorAll('input')) field.removeAttribute('aria-invalid');
  say(form, text, 'error');
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    input.select();
  }
}

/** The message for an error answer, in the page's language, with its wait where it has one. */
export function errorText(error: ApiError): string {
  const key = `error.${error.code}`;
  const time = duration(error.retryAfter ?? 60);
  if (!isMessageKey(key)) return t('error.other', { code: error.code });
  const text = t(key, { time });
  // The service words each invalid field's problem in English; other languages keep the general advice.
  const detail =
    error.code === 'VALIDATION_FAILED' && document.documentElement.lang === 'en' ? Object.values(error.errors ?? {})[0]?.[0] : undefined;
  return detail ? `${text} (${detail})` : text;
}

/** The input an error answer is about: the field it names, or `fallback`. */
export function fieldOf(form: HTMLFormElement, error: ApiError, fallback?: HTMLInputElement): HTMLInputElement | undefined {
  const named = Object.keys(error.errors ?? {})
    .map((name) => form.querySelector<HTMLInputElement>(`input[name="${CSS.escape(name)}"]`))
    .find((input) => input !== null);
  return named ?? fallback;
}

/** An empty required field is named before anything is sent. */
export function firstEmptyField(form: HTMLFormElement): HTMLInputElement | undefined {
  return [...form.querySelectorAll<HTMLInputElement>('input[required]')].find(
    (input) => !input.closest('[hidden]') && input.value.trim() === '',
  );
}

export function setBusy(form: HTMLFormElement, busy: boolean): void {
  form.setAttribute('aria-busy', String(busy));
  for (const button of form.querySelectorAll('button')) button.disabled = busy;
}

/** A phone number is given in E.164 (`+447700900123`); anything else is taken for an email address. */
export function contactOf(value: string): { email: string } | { phone: string } {
  const trimmed = value.trim();
  return /^\+[\d\s().-]+$/.test(trimmed) ? { phone: trimmed.replace(/[\s().-]/g, '') } : { email: trimmed };
}

/**
 * The pages that start a challenge (sign up, sign in, passwordless, reset) all do the same: check the
 * required fields, send, then hand the challenge to the code entry, or say what went wrong at the
 * field it concerns.
 */
export function startsChallenge(
  flow: Flow,
  send: (form: HTMLFormElement) => Promise<Result<{ challengeId: string; channel: Channel }>>,
): void {
  translatePage();
  const form = document.querySelector<HTMLFormElement>('form')!;
  const submit = async () => {
    const empty = firstEmptyField(form);
    if (empty) return flagField(form, empty, t('field.required'));
    setBusy(form, true);
    say(form, t('status.sending'));
    const result = await send(form);
    if (result.ok) {
      savePendingChallenge({ challengeId: result.body.challengeId, flow, channel: result.body.channel });
      location.assign('code');
      return;
    }
    setBusy(form, false);
    flagField(form, fieldOf(form, result.error, form.querySelector('input') ?? undefined), errorText(result.error));
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
}
