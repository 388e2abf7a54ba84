import { Inject, Injectable } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { and, desc, eq, isNotNull, isNull, ne, or, sql } from 'drizzle-orm';
import { Database } from '../../database/database.constants.js';
import { type ContactKind, type OtpChannel, pendingContactChanges, users } from '../../database/schema.js';
import { normalizeEmailAddress, normalizePhoneNumber, parseContact } from '../../otp/destinations/addresses.js';
import { AccountExistsError } from '../auth.errors.js';
import type { User } from './user.js';

export interface NewUser {
  email?: string;
  phone?: string;
  passwordHash?: string;
  otpChannel?: OtpChannel;
}

const active = isNull(users.deletedAt);

/** Accounts. Soft-deleted ones are invisible to every lookup here. */
@Injectable()
export class UsersRepository {
  /**
   * The lookups of every sign-in and every signed-in request, built once and run as named prepared
   * statements: each connection parses and plans them once, and no request builds their SQL again.
   */
  private byId: ReturnType<UsersRepository['prepareById']> | undefined;
  private readonly byContact: Partial<Record<ContactKind, ReturnType<UsersRepository['prepareByContact']>>> = {};

  constructor(@Inject(Database) private readonly db: Database) {}

  /**
   * A new account claims its contacts unverified: that blocks nobody, and whichever account verifies
   * a contact first owns it.
   * @throws AccountExistsError when another account has verified the email address or phone number.
   */
  async create(input: NewUser): Promise<User> {
    const email = input.email === undefined ? null : requireEmail(input.email);
    const phone = input.phone === undefined ? null : requirePhone(input.phone);
    if (email === null && phone === null) throw new TypeError('A user needs an email address or a phone number');
    if (
      (email !== null && (await this.findVerifiedOwner('email', email))) ||
      (phone !== null && (await this.findVerifiedOwner('phone', phone)))
    ) {
      throw new AccountExistsError();
    }
    const [user] = await this.db
      .insert(users)
      .values({ email, phone, passwordHash: input.passwordHash ?? null, otpChannel: input.otpChannel ?? null })
      .returning();
    return user!;
  }

  async findById(id: string): Promise<User | undefined> {
    // Not a UUID (in the loose form PostgreSQL reads) cannot match, and PostgreSQL would reject the comparison rather than find nothing.
    if (!isUUID(id, 'loose')) return undefined;
    this.byId ??= this.prepareById();
    const [user] = await this.byId.execute({ id });
    return user;
  }

  /** The account that signs in with this email address: see `findByContact`. */
  async findByEmail(email: string): Promise<User | undefined> {
    const normalized = normalizeEmailAddress(email);
    return normalized ? this.findByContact('email', normalized) : undefined;
  }

  /** The account that signs in with this phone number: see `findByContact`. */
  async findByPhone(phone: string): Promise<User | undefined> {
    const e164 = normalizePhoneNumber(phone);
    return e164 ? this.findByContact('phone', e164) : undefined;
  }

  /** An email address or a phone number, as a person types it at login. */
  async findByIdentifier(identifier: string): Promise<User | undefined> {
    const contact = parseContact(identifier);
    if (!contact) return undefined;
    return this.findByContact(contact.kind, contact.value);
  }

  /**
   * The account a normalized contact signs in to: the one that verified it; else, while nobody has,
   * the newest account that claims it and has no verified contact at all (a sign-up not finished).
   * An account that verified another contact never signs in, nor receives codes, through an
   * unverified one: that is how an address typed by someone else would be squatted.
   */
  async findByContact(kind: ContactKind, value: string): Promise<User | undefined> {
    const lookup = (this.byContact[kind] ??= this.prepareByContact(kind));
    const [user] = await lookup.execute({ value });
    return user;
  }

  /** The account that verified this normalized contact, if any: only it may keep another account from using it. */
  async findVerifiedOwner(kind: ContactKind, value: string): Promise<User | undefined> {
    const { contact, verifiedAt } = columnsOf(kind);
    const [user] = await this.db
      .select()
      .from(users)
      .where(and(eq(contact, value), isNotNull(verifiedAt), active));
    return user;
  }

  /**
   * Takes ownership of the account's email address: other accounts lose their unverified claim of it.
   * @throws AccountExistsError when another account verified it first.
   */
  markEmailVerified(id: string, at = new Date()): Promise<User | undefined> {
    return this.claimContact(id, 'email', undefined, at);
  }

  /** As `markEmailVerified`, for the phone number. */
  markPhoneVerified(id: string, at = new Date()): Promise<User | undefined> {
    return this.claimContact(id, 'phone', undefined, at);
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
    return this.claimContact(id, kind, kind === 'email' ? requireEmail(value) : requirePhone(value), verifiedAt);
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
  /**
   * Removes the account for good: the row and, by cascade, its sessions, staged contact changes and
   * recovery codes. Its access tokens then find no user and no session, and its contacts sign in as
   * unknown ones do. False when there was no such account.
   */
  async delete(id: string): Promise<boolean> {
    if (!isUUID(id, 'loose')) return false;
    const deleted = await this.db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
    return deleted.length > 0;
  }

  async softDelete(id: string, at = new Date()): Promise<boolean> {
    return (await this.update(id, { deletedAt: at })) !== undefined;
  }

  /**
   * Marks the account's contact of that kind verified (set to `newValue` first when given), and takes
   * it away from every other account that claimed it unverified; one left with no contact at all is
   * soft-deleted, since nothing could ever sign in to it. Two accounts verifying one address at once
   * queue on a lock of that address, so the second is refused rather than deadlocked.
   */
  private async claimContact(id: string, kind: ContactKind, newValue: string | undefined, at: Date): Promise<User | undefined> {
    if (!isUUID(id, 'loose')) return undefined;
    const { contact, verifiedAt, other, lostChannels } = columnsOf(kind);
    return refuseDuplicates(
      this.db.transaction(async (tx) => {
        const [current] = await tx
          .select({ value: contact })
          .from(users)
          .where(and(eq(users.id, id), active));
        const value = newValue ?? current?.value;
        if (value === undefined || value === null) return undefined;
        await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`otp-gateway:contact:${kind}:${value}`}))`);
        const values = kind === 'email' ? { email: value, emailVerifiedAt: at } : { phone: value, phoneVerifiedAt: at };
        const [user] = await tx
          .update(users)
          .set(values)
          .where(and(eq(users.id, id), active))
          .returning();
        if (!user) return undefined;
        const rivals = and(eq(contact, value), isNull(verifiedAt), ne(users.id, id), active);
        await tx
          .update(users)
          .set({ deletedAt: at })
          .where(and(rivals, isNull(other)));
        await tx
          .update(users)
          .set({
            [kind]: null,
            otpChannel: sql`CASE WHEN ${users.otpChannel} IN (${sql.join(
              lostChannels.map((channel) => sql`${channel}`),
              sql`, `,
            )}) THEN NULL ELSE ${users.otpChannel} END`,
          })
          .where(rivals);
        return user;
      }),
    );
  }

  private prepareById() {
    return this.db
      .select()
      .from(users)
      .where(and(eq(users.id, sql.placeholder('id')), active))
      .prepare('users_by_id');
  }

  private prepareByContact(kind: ContactKind) {
    const { contact, verifiedAt } = columnsOf(kind);
    return this.db
      .select()
      .from(users)
      .where(
        and(
          eq(contact, sql.placeholder('value')),
          active,
          or(isNotNull(verifiedAt), and(isNull(users.emailVerifiedAt), isNull(users.phoneVerifiedAt))),
        ),
      )
      .orderBy(sql`${verifiedAt} IS NULL`, desc(users.createdAt), desc(users.id))
      .limit(1)
      .prepare(`users_by_${kind}`);
  }

  private async update(id: string, values: Partial<typeof users.$inferInsert>): Promise<User | undefined> {
    if (!isUUID(id, 'loose')) return undefined;
    const [user] = await this.db
      .update(users)
      .set(values)
      .where(and(eq(users.id, id), active))
      .returning();
    return user;
  }
}

function columnsOf(kind: ContactKind) {
  return kind === 'email'
    ? { contact: users.email, verifiedAt: users.emailVerifiedAt, other: users.phone, lostChannels: ['email'] }
    : { contact: users.phone, verifiedAt: users.phoneVerifiedAt, other: users.email, lostChannels: ['sms', 'whatsapp'] };
}

function requireEmail(email: string): string {
  const normalized = normalizeEmailAddress(email);
  if (!normalized) throw new TypeError('Not a valid email address');
  return normalized;
}

function requirePhone(phone: string): string {
  const e164 = normalizePhoneNumber(phone);
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
