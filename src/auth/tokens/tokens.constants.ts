export const ACCESS_TOKEN_ISSUER = 'otp-gateway';
export const ACCESS_TOKEN_AUDIENCE = 'otp-gateway-api';
/** Signed with JWT_SECRET; the only algorithm accepted on the way back in. */
export const ACCESS_TOKEN_ALGORITHM = 'HS256';
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;
/** 256 bits of CSPRNG output per refresh token. */
export const REFRESH_TOKEN_BYTES = 32;
