import type { Channel } from '../../config/configuration.types.js';

/** The `channel` of a login challenge answered from an authenticator app: nothing is sent. */
export const AUTHENTICATOR_APP = 'totp';
export type ChallengeChannel = Channel | typeof AUTHENTICATOR_APP;

/**
 * The purpose under which such a challenge is stored: its own, so a login by code to a contact and one
 * by the app never share a challenge, and nothing that sends codes ever completes or re-sends it.
 */
export const APP_LOGIN_PURPOSE = 'login_totp';

/** RFC 6238 as every authenticator app reads an otpauth:// URI by default. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** One step either side of now: a phone clock a little off, or a code typed as it turned over. */
export const TOTP_WINDOW = 1;
export const TOTP_ISSUER = 'otp-gateway';
export const RECOVERY_CODE_COUNT = 10;
