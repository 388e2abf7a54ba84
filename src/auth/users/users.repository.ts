import { Inject, Injectable } from '@nestjs/common';
import { and, eq, isNull } from 'drizzle-orm';
import { Database } from '../../database/database.constants.js';
import { type ContactKind, type OtpChannel, pendingContactChanges, users } from '../../database/schema.js';
import { AccountExistsError } from '../auth.errors.js';
import { normalizeEmail, normalizePhone, parseIdentifier } from './contacts.js';
import type { User } from './user.js';

export interface NewUser {
  email?: string;
  phone?: string;
  passwordHash?: string;
  otpChannel?: OtpChannel;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const active = isNull(users.deletedAt);

/** Accounts. Soft-deleted ones are invisible to every lookup here. */
@Injectable()
export class UsersRepository {
  constructor(@Inject(Database) private readonly db: Database) {}

  /** @throws AccountExistsError when the email address or phone number belongs to another account. */
  async create(input: NewUser): Promise<User> {
    const email = input.email === undefined ? null : requireEmail(input.email);
    const phone = input.phone === undefined ? null : requirePhone(input.phone);
    if (email === null && phone === null) throw new TypeError('A user needs an email address or a phone number');
    const [user] = await refuseDuplicates(
      this.db
        .insert(users)
        .values({ email, phone, passwordHash: input.passwordHash ?? null, otpChannel: input.otpChannel ?? null })
        .returning(),
    );
    return user!;
  }

  async findById(id: string): Promise<User | undefined> {
    // Not a UUID cannot match, and PostgreSQL would reject the comparison rather than find nothing.
    if (!UUID.test(id)) return undefined;
    const [user] = await this.db.select().from(users).where(and(eq(users.id, id), active));
    return user;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const normalized = normalizeEmail(email);
    if (!normalized) return undefined;
    const [user] = await this.db.select().from(users).where(and(eq(users.email, normalized), active));
    return user;
  }

  async findByPhone(phone: string): Promise<User | undefined> {
    const e164 = normalizePhone(phone);
    if (!e164) return undefined;
    const [user] = await this.db.select().from(users).where(and(eq(users.phone, e164), active));
    return user;
  }

  /** An email address or a phone number, as a person types it at login. */
  async findByIdentifier(identifier: string): Promise<User | undefined> {
    const contact = parseIdentifier(identifier);
    if (!contact) return undefined;
    return contact.kind === 'email' ? this.findByEmail(contact.value) : this.findByPhone(contact.value);
  }

  markEmailVerified(id: string, at = new Date()): Promise<User | undefined> {
    return this.update(id, { emailVerifiedAt: at });
  }

  markPhoneVerified(id: string, at = new Date()): Promise<User | undefined> {
    return this.update(id, { phoneVerifiedAt: at });
  }

  setPasswordHash(id: string, passwordHash: string): Promise<User | undefined> {
    return this.update(id, { passwordHash });
  }

  setOtpChannel(id: string, otpChannel: OtpChannel | null): Promise<User | undefined> {
    return this.update(id, { otpChannel });
  }

  /**
   * Replaces the email address or phone number with one whose code was just verified, so it counts
   * as verified at once.
   * @throws AccountExistsError when another account has it.
   */
  replaceContact(id: string, kind: ContactKind, value: string, verifiedAt = new Date()): Promise<User | undefined> {
    return refuseDuplicates(
      kind === 'email'
        ? this.update(id, { email: requireEmail(value), emailVerifiedAt: verifiedAt })
        : this.update(id, { phone: requirePhone(value), phoneVerifiedAt: verifiedAt }),
    );
  }

  /** Remembers the contact a user asked to switch to until its code is verified; a newer request replaces it. */
  async stageContactChange(userId: string, kind: ContactKind, value: string): Promise<void> {
    const newValue = kind === 'email' ? requireEmail(value) : requirePhone(value);
    await this.db
      .insert(pendingContactChanges)
      .values({ userId, kind, newValue })
      .onConflictDoUpdate({
        target: [pendingContactChanges.userId, pendingContactChanges.kind],
        set: { newValue, createdAt: new Date() },
      });
  }

  /** The staged contact of that kind, left in place. */
  async findContactChange(userId: string, kind: ContactKind): Promise<string | undefined> {
    const [change] = await this.db
      .select({ newValue: pendingContactChanges.newValue })
      .from(pendingContactChanges)
      .where(and(eq(pendingContactChanges.userId, userId), eq(pendingContactChanges.kind, kind)));
    return change?.newValue;
  }

  /** The staged contact of that kind, removed as it is returned so it can be applied once only. */
  async takeContactChange(userId: string, kind: ContactKind): Promise<string | undefined> {
    const [change] = await this.db
      .delete(pendingContactChanges)
      .where(and(eq(pendingContactChanges.userId, userId), eq(pendingContactChanges.kind, kind)))
      .returning();
    return change?.newValue;
  }

  /** The row stays (tokens in circulation are refused by it); its contacts become free for a new account. */
  async softDelete(id: string, at = new Date()): Promise<boolean> {
    return (await this.update(id, { deletedAt: at })) !== undefined;
  }

  private async update(id: string, values: Partial<typeof users.$inferInsert>): Promise<User | undefined> {
    if (!UUID.test(id)) return undefined;
    const [user] = await this.db
      .update(users)
      .set(values)
      .where(and(eq(users.id, id), active))
      .returning();
    return user;
  }
}

function requireEmail(email: string): string {
  const normalized = normalizeEmail(email);
  if (!normalized) throw new TypeError('Not a valid email address');
  return normalized;
}

function requirePhone(phone: string): string {
  const e164 = normalizePhone(phone);
  if (!e164) throw new TypeError('Not a valid phone number in international format');
  return e164;
}

const UNIQUE_VIOLATION = '23505';

/** PostgreSQL's unique violation, whichever driver raised it and however Drizzle wrapped it. */
export function isUniqueViolation(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if ((current as { code?: unknown }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}

async function refuseDuplicates<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    if (isUniqueViolation(error)) throw new AccountExistsError();
    throw error;
  }
}
