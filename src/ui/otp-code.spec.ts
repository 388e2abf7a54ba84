import { chooseLanguage } from './public/language.js';
import { extractCode, formatCountdown, isWholeCode } from './public/otp-code.js';

describe('extractCode', () => {
  it.each([
    ['123456', '123456'],
    ['123 456', '123456'],
    ['123-456', '123456'],
    [' 12 34 56 ', '123456'],
    ['Your code is 123456', '123456'],
    ['Your code is 123456. It expires in 10 minutes.', '123456'],
    ['Tu código es 123 456 (caduca en 10 min)', '123456'],
    ['Your code is 12345678\n\n@example.com #12345678', '12345678'],
    ['@example.com #654321', '654321'],
  ])('finds the code in %j', (text, code) => {
    expect(extractCode(text)).toBe(code);
  });

  it('keeps every digit of a code still being typed', () => {
    expect(extractCode('123')).toBe('123');
    expect(extractCode('12 3')).toBe('123');
  });

  it('keeps nothing but digits, and at most ten', () => {
    expect(extractCode('abc')).toBe('');
    expect(extractCode('1 2 3 4 5 6 7 8 9 0 1 2')).toBe('1234567890');
  });
});

it('takes 6 to 10 digits for a whole code', () => {
  expect([
    isWholeCode('12345'),
    isWholeCode('123456'),
    isWholeCode('1234567890'),
    isWholeCode('12345678901'),
    isWholeCode('12345a'),
  ]).toEqual([false, true, true, false, false]);
});

it('counts down in minutes and seconds, rounding up so that 0:00 means it is time', () => {
  expect([formatCountdown(27_000), formatCountdown(26_100), formatCountdown(65_000), formatCountdown(0), formatCountdown(-5)]).toEqual([
    '0:27',
    '0:27',
    '1:05',
    '0:00',
    '0:00',
  ]);
});

describe('chooseLanguage', () => {
  it('takes ?lang= first, then the tab’s earlier choice, then the browser’s languages in order, then English', () => {
    expect(chooseLanguage('es', 'en', ['en-GB'])).toBe('es');
    expect(chooseLanguage(null, 'es', ['en-GB'])).toBe('es');
    expect(chooseLanguage(null, null, ['fr-FR', 'es-MX', 'en'])).toBe('es');
    expect(chooseLanguage('de', null, ['fr'])).toBe('en');
  });
});
