import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** The channels a user can pick for their codes; the same names as `OTP_CHANNELS`. */
export const OTP_CHANNELS = ['email', 'sms', 'whatsapp'] as const;
export type OtpChannel = (typeof OTP_CHANNELS)[number];

export const CONTACT_KINDS = ['email', 'phone'] as const;
export type ContactKind = (typeof CONTACT_KINDS)[number];

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Lower-cased and trimmed before it is stored, so lookups and the verified-owner index are case-insensitive. */
    email: text('email'),
    /** E.164. */
    phone: text('phone'),
    passwordHash: text('password_hash'),
    emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true }),
    phoneVerifiedAt: timestamp('phone_verified_at', { withTimezone: true }),
    otpChannel: text('otp_channel', { enum: OTP_CHANNELS }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
    /**
     * Soft delete: the row stays so that tokens still in circulation can be recognised and refused,
     * while its email address and phone number become free for a new account.
     */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (table) => [
    // Only a verified contact is owned: unverified claims of one address may coexist until one account verifies it.
    uniqueIndex('users_verified_email_key').on(table.email).where(sql`${table.deletedAt} IS NULL AND ${table.emailVerifiedAt} IS NOT NULL`),
    uniqueIndex('users_verified_phone_key').on(table.phone).where(sql`${table.deletedAt} IS NULL AND ${table.phoneVerifiedAt} IS NOT NULL`),
    index('users_email_idx').on(table.email).where(sql`${table.deletedAt} IS NULL`),
    index('users_phone_idx').on(table.phone).where(sql`${table.deletedAt} IS NULL`),
    check('users_contact_present', sql`${table.email} IS NOT NULL OR ${table.phone} IS NOT NULL`),
    check('users_otp_channel_known', sql`${table.otpChannel} IN ('email', 'sms', 'whatsapp')`),
  ],
);

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Every token descended from one login shares it, so reuse of any of them can revoke them all. */
    familyId: uuid('family_id').notNull(),
    /** SHA-256 of the opaque token (hex); the token itself is never stored. */
    tokenHash: text('token_hash').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    replacedBy: uuid('replaced_by'),
    userAgent: text('user_agent'),
    ip: text('ip'),
  },
  (table) => [
    uniqueIndex('refresh_tokens_token_hash_key').on(table.tokenHash),
    index('refresh_tokens_family_id_idx').on(table.familyId),
    index('refresh_tokens_user_id_idx').on(table.userId),
  ],
);

/** A new email address or phone number waiting for its code before it replaces the current one. */
export const pendingContactChanges = pgTable(
  'pending_contact_changes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: CONTACT_KINDS }).notNull(),
    newValue: text('new_value').notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex('pending_contact_changes_user_kind_key').on(table.userId, table.kind),
    check('pending_contact_changes_kind_known', sql`${table.kind} IN ('email', 'phone')`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;
export type PendingContactChangeRow = typeof pendingContactChanges.$inferSelect;
