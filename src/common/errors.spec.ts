import { bodyTooLargeMessage, retryAfterInWords } from './errors.js';

describe('retryAfterInWords', () => {
  it.each([
    [1, 'Try again in 1 second.'],
    [30, 'Try again in 30 seconds.'],
    [60, 'Try again in 1 minute.'],
    [660, 'Try again in 11 minutes.'],
    [3600, 'Try again in 60 minutes.'],
    [7200, 'Try again in 2 hours.'],
    [0, 'Try again in 1 second.'],
  ])('says %p seconds as %p', (seconds, words) => {
    expect(retryAfterInWords(seconds)).toBe(words);
  });
});

describe('bodyTooLargeMessage', () => {
  it.each([
    [64 * 1024, 'The request body is larger than 64 KiB.'],
    [1024 * 1024, 'The request body is larger than 1 MiB.'],
    [1536 * 1024, 'The request body is larger than 1536 KiB.'],
    [1000, 'The request body is larger than 1000 bytes.'],
  ])('says a limit of %p bytes as %p', (bytes, message) => {
    expect(bodyTooLargeMessage(bytes)).toBe(message);
  });
});
