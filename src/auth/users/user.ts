import type { OtpChannel, UserRow } from '../../database/schema.js';

export type User = UserRow;

/** What a client may see of an account: the `user` of a token pair and of `GET /v1/auth/me`. */
export interface PublicUser {
  id: string;
  email: string | null;
  phone: string | null;
  emailVerified: boolean;
  phoneVerified: boolean;
  otpChannel: OtpChannel | null;
  createdAt: string;
}

export function toPublicUser(user: User): PublicUser {
  return {
    id: user.id,
    email: user.email,
    phone: user.phone,
    emailVerified: user.emailVerifiedAt !== null,
    phoneVerified: user.phoneVerifiedAt !== null,
    otpChannel: user.otpChannel,
    createdAt: user.createdAt.toISOString(),
  };
}
