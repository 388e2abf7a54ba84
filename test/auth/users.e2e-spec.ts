import { eq } from 'drizzle-orm';
import { AccountExistsError } from '../../src/auth/auth.errors.js';
import { users } from '../../src/database/schema.js';
import { type AuthHarness, startAuthHarness } from '../support/auth-harness.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';

describe.each(testDatabaseKinds())('UsersRepository on %s', (kind) => {
  let database: TestDatabase;
  let harness: AuthHarness;
  let sequence = 0;
  const email = () => `person${++sequence}@example.com`;
  const phone = () => `+4479111${String(++sequence).padStart(5, '0')}`;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    harness = await startAuthHarness(database);
  });
  afterAll(async () => {
    await harness?.close();
    await database?.drop();
  });

  it('stores email addresses lower-cased and finds them however they are typed', async () => {
    const address = email();
    const created = await harness.users.create({ email: `  ${address.toUpperCase()} `, passwordHash: 'h' });
    expect(created).toMatchObject({ email: address, phone: null, emailVerifiedAt: null, deletedAt: null });
    expect((await harness.users.findByEmail(address.toUpperCase()))?.id).toBe(created.id);
    expect((await harness.users.findByIdentifier(` ${address.replace('person', 'PERSON')}`))?.id).toBe(created.id);
  });

  it('stores phone numbers in E.164 and finds them by identifier', async () => {
    const number = phone();
    const created = await harness.users.create({ phone: `${number.slice(0, 3)} ${number.slice(3)}`, otpChannel: 'sms' });
    expect(created).toMatchObject({ phone: number, email: null, otpChannel: 'sms' });
    expect((await harness.users.findByIdentifier(number))?.id).toBe(created.id);
    expect((await harness.users.findByPhone(number))?.id).toBe(created.id);
  });

  it('refuses a second account with an email address another account verified, whatever its case', async () => {
    const address = email();
    const owner = await harness.users.create({ email: address });
    await harness.users.markEmailVerified(owner.id);
    const duplicate = harness.users.create({ email: address.toUpperCase(), phone: phone() });
    await expect(duplicate).rejects.toThrow(AccountExistsError);
    await expect(duplicate).rejects.toMatchObject({ code: 'ACCOUNT_EXISTS' });
  });

  it('refuses a second account with a phone number another account verified', async () => {
    const number = phone();
    const owner = await harness.users.create({ phone: number });
    await harness.users.markPhoneVerified(owner.id);
    await expect(harness.users.create({ phone: number, email: email() })).rejects.toMatchObject({ code: 'ACCOUNT_EXISTS' });
  });

  it('lets several accounts claim one address unverified; the first to verify it owns it and the others lose it', async () => {
    const address = email();
    const keepsPhone = await harness.users.create({ email: address, phone: phone(), otpChannel: 'email' });
    const onlyThat = await harness.users.create({ email: address });
    const winner = await harness.users.create({ email: address.toUpperCase(), phone: phone() });

    const verified = await harness.users.markEmailVerified(winner.id);
    expect(verified).toMatchObject({ id: winner.id, email: address, emailVerifiedAt: expect.any(Date) });
    expect(await harness.users.findByEmail(address)).toMatchObject({ id: winner.id });
    // Lost the address, and the preferred channel that needed it; still reachable by its phone number.
    expect(await harness.users.findById(keepsPhone.id)).toMatchObject({ email: null, phone: keepsPhone.phone, otpChannel: null });
    // Nothing would be left to sign in with: the account goes.
    expect(await harness.users.findById(onlyThat.id)).toBeUndefined();
    await expect(harness.users.create({ email: address })).rejects.toMatchObject({ code: 'ACCOUNT_EXISTS' });
  });

  it('signs an unverified contact in only to an account with nothing verified, the newest such one', async () => {
    const address = email();
    const squatter = await harness.users.create({ email: address, phone: phone(), otpChannel: 'sms' });
    await harness.users.markPhoneVerified(squatter.id);
    expect(await harness.users.findByEmail(address)).toBeUndefined();
    expect((await harness.users.findByPhone(squatter.phone!))?.id).toBe(squatter.id);

    const older = await harness.users.create({ email: address });
    const newer = await harness.users.create({ email: address });
    expect((await harness.users.findByEmail(address))?.id).toBe(newer.id);
    await harness.users.markEmailVerified(older.id);
    expect((await harness.users.findByEmail(address))?.id).toBe(older.id);
    expect(await harness.users.findVerifiedOwner('email', address)).toMatchObject({ id: older.id });
  });

  it('lets exactly one of two accounts verifying one phone number at once own it', async () => {
    const number = phone();
    const first = await harness.users.create({ phone: number, email: email() });
    const second = await harness.users.create({ phone: number, email: email() });
    const results = await Promise.allSettled([harness.users.markPhoneVerified(first.id), harness.users.markPhoneVerified(second.id)]);
    const owners = results.filter((result) => result.status === 'fulfilled' && result.value !== undefined);
    expect(owners).toHaveLength(1);
    // The other either waited and found its claim gone, or was refused by the index while racing.
    expect(results.filter((result) => !owners.includes(result))).toEqual([
      expect.objectContaining(
        results.some((result) => result.status === 'rejected')
          ? { reason: expect.objectContaining({ code: 'ACCOUNT_EXISTS' }) }
          : { value: undefined },
      ),
    ]);
    const owner = await harness.users.findVerifiedOwner('phone', number);
    const loser = await harness.users.findById(owner!.id === first.id ? second.id : first.id);
    expect(loser).toMatchObject({ phone: null, phoneVerifiedAt: null });
  });

  it('lets the database refuse a user with neither email nor phone', async () => {
    await expect(harness.db.insert(users).values({ passwordHash: 'h' })).rejects.toThrow();
  });

  it('records verification, the password hash and the preferred channel, and moves updatedAt', async () => {
    const created = await harness.users.create({ email: email(), phone: phone() });
    const verifiedAt = new Date('2026-03-01T12:00:00Z');
    await harness.users.markEmailVerified(created.id, verifiedAt);
    await harness.users.markPhoneVerified(created.id, verifiedAt);
    await harness.users.setPasswordHash(created.id, 'new-hash');
    const updated = await harness.users.setOtpChannel(created.id, 'whatsapp');
    expect(updated).toMatchObject({
      emailVerifiedAt: verifiedAt,
      phoneVerifiedAt: verifiedAt,
      passwordHash: 'new-hash',
      otpChannel: 'whatsapp',
    });
    expect(updated!.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());
  });

  it('refuses an unknown preferred channel in the database too', async () => {
    const created = await harness.users.create({ email: email() });
    await expect(
      harness.db
        .update(users)
        .set({ otpChannel: 'pigeon' as 'sms' })
        .where(eq(users.id, created.id)),
    ).rejects.toThrow();
  });

  it('replaces a contact with a verified one, unless another account verified it', async () => {
    const taken = email();
    await harness.users.markEmailVerified((await harness.users.create({ email: taken })).id);
    const user = await harness.users.create({ email: email() });
    await expect(harness.users.replaceContact(user.id, 'email', taken)).rejects.toMatchObject({ code: 'ACCOUNT_EXISTS' });

    const fresh = email();
    const replaced = await harness.users.replaceContact(user.id, 'email', fresh.toUpperCase());
    expect(replaced).toMatchObject({ email: fresh });
    expect(replaced!.emailVerifiedAt).toBeInstanceOf(Date);
    const number = phone();
    const claimant = await harness.users.create({ phone: number, email: email() });
    expect(await harness.users.replaceContact(user.id, 'phone', number)).toMatchObject({ phone: number, email: fresh });
    expect(await harness.users.findById(claimant.id)).toMatchObject({ phone: null });
  });

  it('keeps one staged contact change per kind and hands it out once', async () => {
    const user = await harness.users.create({ email: email() });
    await harness.users.stageContactChange(user.id, 'email', 'First@Example.com');
    await harness.users.stageContactChange(user.id, 'email', 'Second@Example.com');
    expect(await harness.users.takeContactChange(user.id, 'phone')).toBeUndefined();
    expect(await harness.users.takeContactChange(user.id, 'email')).toBe('second@example.com');
    expect(await harness.users.takeContactChange(user.id, 'email')).toBeUndefined();
  });

  it('hides a soft-deleted user from every lookup and frees its contacts', async () => {
    const address = email();
    const number = phone();
    const user = await harness.users.create({ email: address, phone: number });
    expect(await harness.users.softDelete(user.id)).toBe(true);
    expect(await harness.users.findById(user.id)).toBeUndefined();
    expect(await harness.users.findByEmail(address)).toBeUndefined();
    expect(await harness.users.findByPhone(number)).toBeUndefined();
    expect(await harness.users.setOtpChannel(user.id, 'sms')).toBeUndefined();
    expect(await harness.users.softDelete(user.id)).toBe(false);

    const successor = await harness.users.create({ email: address, phone: number });
    expect(successor.id).not.toBe(user.id);
    const [row] = await harness.db.select().from(users).where(eq(users.id, user.id));
    expect(row?.deletedAt).toBeInstanceOf(Date);
  });

  it('finds nothing, without an error, for ids and identifiers that cannot exist', async () => {
    expect(await harness.users.findById('not-a-uuid')).toBeUndefined();
    expect(await harness.users.findById('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(await harness.users.findByIdentifier('no-at-sign-nor-number')).toBeUndefined();
  });
});
