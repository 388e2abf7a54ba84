import type { Channel } from './api.js';

/** Which page started the challenge: it decides what the code entry asks for and where "start again" leads. */
export type Flow = 'signup' | 'signin' | 'passwordless' | 'reset';

export interface PendingChallenge {
  challengeId: string;
  flow: Flow;
  channel: Channel;
  /** Started by a password reset that already changed the password (the account signs in with an authenticator app). */
  passwordChanged?: true;
}

const KEY = 'otp-gateway.challenge';

/** Handed from the page that started a challenge to the code entry in this tab's storage, never in the URL. */
export function savePendingChallenge(challenge: PendingChallenge): void {
  sessionStorage.setItem(KEY, JSON.stringify(challenge));
}

export function pendingChallenge(): PendingChallenge | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as PendingChallenge | null;
    return stored?.challengeId && stored.flow ? stored : undefined;
  } catch {
    return undefined;
  }
}

export function forgetPendingChallenge(): void {
  sessionStorage.removeItem(KEY);
}

/** Where each flow starts, relative to /ui/. */
export const START_PAGE: Record<Flow, string> = { signup: 'signup', signin: 'signin', passwordless: 'passwordless', reset: 'reset' };
