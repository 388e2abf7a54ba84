import { jest } from '@jest/globals';
import { pino } from 'pino';
import { createLogger, logTimestamp } from './logger.js';

describe('the log line timestamp', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is pino’s isoTime, from one millisecond and one day to the next', () => {
    const now = jest.spyOn(Date, 'now');
    for (const at of [
      Date.UTC(2026, 11, 5, 10, 0, 0, 1),
      Date.UTC(2026, 11, 5, 10, 0, 0, 2),
      Date.UTC(2026, 11, 5, 23, 59, 59, 999),
      Date.UTC(2026, 11, 6),
      0,
    ]) {
      now.mockReturnValue(at);
      expect(logTimestamp()).toBe(pino.stdTimeFunctions.isoTime());
      expect(logTimestamp()).toBe(`,"time":"${new Date(at).toISOString()}"`);
    }
  });

  it('stamps the lines of the service’s logger with the time they were written', () => {
    const lines: string[] = [];
    const logger = createLogger({ format: 'json', secrets: [], destination: { write: (line: string) => lines.push(line) } });
    const now = jest.spyOn(Date, 'now');
    now.mockReturnValue(Date.UTC(2026, 11, 5, 10, 0, 0, 7));
    logger.info('first');
    logger.info('second, in the same millisecond');
    now.mockReturnValue(Date.UTC(2026, 11, 5, 10, 0, 1, 0));
    logger.info('a second later');
    expect(lines.map((line) => (JSON.parse(line) as { time: string }).time)).toEqual([
      '2026-12-05T10:00:00.007Z',
      '2026-12-05T10:00:00.007Z',
      '2026-12-05T10:00:01.000Z',
    ]);
  });
});
