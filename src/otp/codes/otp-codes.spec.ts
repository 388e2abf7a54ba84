import { digestCode, digestsEqual, generateCode } from './otp-codes.js';

describe('codes', () => {
  it('have exactly the configured number of digits, leading zeros kept', () => {
    const codes = Array.from({ length: 2000 }, () => generateCode(6));
    expect(codes.every((code) => /^\d{6}$/.test(code))).toBe(true);
    expect(codes.some((code) => code.startsWith('0'))).toBe(true);
    expect(generateCode(10)).toMatch(/^\d{10}$/);
  });

  it('are uniform: every code of a short length turns up about as often as any other', () => {
    const counts = new Map<string, number>();
    const draws = 100_000;
    for (let i = 0; i < draws; i++) {
      const code = generateCode(3);
      counts.set(code, (counts.get(code) ?? 0) + 1);
    }
    expect(counts.size).toBe(1000);
    // 100 expected each, with a standard deviation of 10: 45 and 165 are 5.5 and 6.5 of them out.
    expect(Math.min(...counts.values())).toBeGreaterThan(45);
    expect(Math.max(...counts.values())).toBeLessThan(165);
  });

  it('use every digit in every position', () => {
    const seen = Array.from({ length: 6 }, () => new Set<string>());
    for (let i = 0; i < 3000; i++) [...generateCode(6)].forEach((digit, position) => seen[position]!.add(digit));
    expect(seen.every((digits) => digits.size === 10)).toBe(true);
  });

  it('digest differently per secret, verification, purpose and code', () => {
    const base = digestCode('secret-a', 'id-1', 'verify', '123456');
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(digestCode('secret-a', 'id-1', 'verify', '123456')).toBe(base);
    for (const other of [
      digestCode('secret-b', 'id-1', 'verify', '123456'),
      digestCode('secret-a', 'id-2', 'verify', '123456'),
      digestCode('secret-a', 'id-1', 'login', '123456'),
      digestCode('secret-a', 'id-1', 'verify', '123457'),
    ]) {
      expect(other).not.toBe(base);
    }
  });

  it('compare equal digests as equal and never match an empty one', () => {
    expect(digestsEqual('abc', 'abc')).toBe(true);
    expect(digestsEqual('abc', 'abd')).toBe(false);
    expect(digestsEqual('abc', 'abcd')).toBe(false);
    expect(digestsEqual('', '')).toBe(false);
  });
});
