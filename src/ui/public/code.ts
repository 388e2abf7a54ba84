import { auth, serviceNow, type ChallengeStatus, type TokenPair } from './api.js';
import { forgetPendingChallenge, pendingChallenge, savePendingChallenge, START_PAGE, type PendingChallenge } from './challenge.js';
import { byId, errorText, fieldOf, flagField, say, setBusy } from './forms.js';
import { t, translatePage } from './i18n.js';
import { extractCode, formatCountdown, isWholeCode } from './otp-code.js';

// The code entry every flow ends in: the challenge comes from the page that started it (this tab's
// storage); the code goes to POST /v1/auth/otp/verify, with the new password for a reset.

translatePage();
const form = byId<HTMLFormElement>('code-form');
const input = byId<HTMLInputElement>('code');
const newPassword = byId<HTMLInputElement>('new-password');
const resend = byId<HTMLButtonElement>('resend');

const challenge = pendingChallenge();
if (challenge) enter(challenge);
else startAgain(t('code.none'), './');

function enter(challenge: PendingChallenge): void {
  byId('new-password-field').hidden = challenge.flow !== 'reset';
  byId<HTMLAnchorElement>('try-another').href = START_PAGE[challenge.flow];
  let busy = false;
  let session: TokenPair | undefined;
  let webOtp: AbortController | undefined;
  if (challenge.passwordChanged) say(form, t('code.passwordChanged'));

  const submit = async () => {
    if (busy) return;
    input.value = extractCode(input.value);
    if (input.value === '') return flagField(form, input, t('field.required'));
    if (challenge.flow === 'reset' && newPassword.value === '') return flagField(form, newPassword, t('field.required'));
    busy = true;
    setBusy(form, true);
    say(form, t('status.checking'));
    const newPasswordField = challenge.flow === 'reset' ? { newPassword: newPassword.value } : {};
    const result = await auth.verify({ challengeId: challenge.challengeId, code: input.value, ...newPasswordField });
    busy = false;
    setBusy(form, false);
    if (result.ok) {
      webOtp?.abort();
      if ('challengeId' in result.body) {
        // The reset is done, but the account signs in with its authenticator app: on to that code, as after a password.
        savePendingChallenge({ challengeId: result.body.challengeId, flow: 'signin', channel: result.body.channel, passwordChanged: true });
        return location.assign('code');
      }
      session = result.body;
      return signedIn(challenge, result.body);
    }
    const { error } = result;
    if (error.code === 'OTP_INCORRECT') {
      const count = error.attemptsRemaining ?? 0;
      return flagField(form, input, count === 1 ? t('code.attemptsLeft.one') : t('code.attemptsLeft.other', { count }));
    }
    if (error.code === 'OTP_ATTEMPTS_EXCEEDED' || error.code === 'VERIFICATION_NOT_FOUND') {
      return startAgain(errorText(error), START_PAGE[challenge.flow]);
    }
    flagField(form, fieldOf(form, error, input), errorText(error));
  };
  // A code that arrives whole (pasted, autofilled, WebOTP) is sent at once; a reset still needs its new password first.
  const submitWhole = () => {
    if (!isWholeCode(input.value)) return;
    if (challenge.flow === 'reset' && newPassword.value === '') newPassword.focus();
    else void submit();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
  input.addEventListener('paste', (event) => {
    event.preventDefault();
    input.value = extractCode(event.clipboardData?.getData('text') ?? '');
    submitWhole();
  });
  let before = '';
  input.addEventListener('input', () => {
    const digits = extractCode(input.value);
    if (digits !== input.value) input.value = digits;
    // More than one digit at once is not typing: the keyboard's suggestion or autofill put the code in.
    const arrivedWhole = digits.length > before.length + 1;
    before = digits;
    if (arrivedWhole) submitWhole();
  });

  const delivery = watchDelivery(challenge);
  const resendCode = async () => {
    resend.disabled = true;
    const result = await auth.resend({ challengeId: challenge.challengeId });
    if (result.ok) {
      say(form, t('code.resent'));
      delivery.countDownTo(Date.parse(result.body.resendAvailableAt));
      delivery.watch();
      input.value = '';
      before = '';
      input.focus();
      return;
    }
    const { error } = result;
    if (error.code === 'VERIFICATION_NOT_FOUND' || error.code === 'OTP_MAX_SENDS')
      return startAgain(errorText(error), START_PAGE[challenge.flow]);
    say(form, errorText(error), 'error');
    delivery.countDownTo(serviceNow() + (error.retryAfter ?? 0) * 1000);
  };
  resend.addEventListener('click', () => void resendCode());

  // WebOTP: Chrome on Android offers the code of an SMS that ends with "@<this host> #<code>".
  if (challenge.channel === 'sms' && 'OTPCredential' in window) {
    webOtp = new AbortController();
    navigator.credentials
      .get({ otp: { transport: ['sms'] }, signal: webOtp.signal } as CredentialRequestOptions)
      .then((credential) => {
        const code = (credential as (Credential & { code?: string }) | null)?.code;
        if (code && session === undefined) {
          input.value = extractCode(code);
          submitWhole();
        }
      })
      .catch(() => undefined); // declined, aborted or timed out: typing and pasting still work
  }
}

/**
 * Reads the challenge's status: where the code went, when a resend is allowed, and whether it was
 * delivered. `queued` and `sending` are asked again, less and less often, until `sent` or `failed`.
 */
function watchDelivery(challenge: PendingChallenge) {
  let resendAt = 0;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let round = 0;

  const countDownTo = (when: number) => {
    resendAt = when;
    clearInterval(ticker);
    const tick = () => {
      const left = resendAt - serviceNow();
      resend.disabled = left > 0;
      resend.textContent = left > 0 ? t('code.resendIn', { time: formatCountdown(left) }) : t('code.resend');
      if (left <= 0) clearInterval(ticker);
    };
    tick();
    ticker = setInterval(tick, 250);
  };

  const show = (status: ChallengeStatus) => {
    byId('sent-to').textContent =
      status.channel === 'totp' ? t('code.fromApp') : t('code.sentTo', { to: status.to, channel: t(`channel.${status.channel}`) });
    const notDelivered = byId('not-delivered');
    if (status.delivery?.status === 'failed') {
      byId('not-delivered-text').textContent = t('code.notDelivered', { channel: t(`channel.${status.channel}`) });
      notDelivered.hidden = false;
    } else {
      notDelivered.hidden = true;
    }
  };

  const watch = async (attempt = 0, ofRound = ++round) => {
    const result = await auth.status(challenge.challengeId);
    if (ofRound !== round) return; // a resend started a newer round
    if (!result.ok) {
      if (result.error.code === 'VERIFICATION_NOT_FOUND') startAgain(errorText(result.error), START_PAGE[challenge.flow]);
      return;
    }
    show(result.body);
    if (attempt === 0) countDownTo(Date.parse(result.body.resendAvailableAt));
    const pending = result.body.delivery?.status === 'queued' || result.body.delivery?.status === 'sending';
    if (pending && attempt < 6) setTimeout(() => void watch(attempt + 1, ofRound), 1000 * 2 ** attempt);
  };

  void watch();
  return { countDownTo, watch: () => void watch() };
}

function signedIn(challenge: PendingChallenge, pair: TokenPair): void {
  forgetPendingChallenge();
  byId('entry').hidden = true;
  const done = byId('done');
  byId('done-title').textContent = t(
    challenge.flow === 'signup' ? 'done.signup' : challenge.flow === 'reset' ? 'done.reset' : 'done.signin',
  );
  byId('done-who').textContent = t('done.as', { who: pair.user.email ?? pair.user.phone ?? pair.user.id });
  done.hidden = false;
  done.focus();
  const signOut = byId<HTMLButtonElement>('sign-out');
  const signOutNow = async () => {
    signOut.disabled = true;
    const result = await auth.logout(pair.accessToken, { refreshToken: pair.refreshToken });
    const message = byId('done-message');
    if (!result.ok) {
      signOut.disabled = false;
      message.textContent = errorText(result.error);
      return;
    }
    signOut.hidden = true;
    byId('done-who').textContent = '';
    message.textContent = t('done.signedOut');
    byId('done-next').hidden = false;
  };
  signOut.addEventListener('click', () => void signOutNow());
}

function startAgain(text: string, href: string): void {
  byId('entry').hidden = true;
  const section = byId('start-again');
  byId('start-again-text').textContent = text;
  byId<HTMLAnchorElement>('start-again-link').href = href;
  section.hidden = false;
  section.focus();
}
