export const ACCESS_TOKEN_ISSUER = 'otp-gateway';
export const ACCESS_TOKEN_AUDIENCE = 'otp-gateway-api';
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/**
 * How long a rotated refresh token still gets a pair of its own session: two tabs refreshing at once
 * send the same token, and the one that loses the race must not sign the user out. Later, it is theft.
 */
export const REFRESH_REUSE_GRACE_SECONDS = 10;
/** 256 bits of CSPRNG output per refresh token. */
export const REFRESH_TOKEN_BYTES = 32;
