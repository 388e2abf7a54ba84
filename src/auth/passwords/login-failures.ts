/**
 * Wrong passwords per login identifier in a fixed window opened by the first one. Shared by every
 * replica when Redis is configured. Keys are digests of the identifier, never the address itself.
 */
export interface LoginFailures {
  /** Milliseconds until the window of `key` ends if it already holds `max` failures, else 0. */
  blockedForMs(key: string, max: number): Promise<number>;
  /** Counts one failure, opening a window of `windowMs` with the first. */
  record(key: string, windowMs: number): Promise<void>;
  /** Forgets the failures of `key`: its password was just given right. */
  clear(key: string): Promise<void>;
}

export const LoginFailures = Symbol('LoginFailures');

export const LOGIN_FAILURE_WINDOW_MS = 15 * 60 * 1000;
