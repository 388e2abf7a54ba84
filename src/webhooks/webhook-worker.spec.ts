import { jest } from '@jest/globals';
import { MetricsService } from '../metrics/metrics.service.js';
import { MemoryWebhookFailures } from './webhook-failures.js';
import { webhookAttempts, webhookRetryDelay, type WebhookJob } from './webhook-job.js';
import type { WebhookSender } from './webhook-sender.js';
import { WebhookWorker } from './webhook-worker.js';

const job: WebhookJob = {
  webhookId: 'msg_1',
  type: 'verification.approved',
  payload: '{}',
  url: 'https://user:secret@app.example.com/hooks?token=abc',
};

describe('WebhookWorker', () => {
  it('asks for a retry while attempts remain, and keeps the event as a failure once they are used up', async () => {
    const failures = new MemoryWebhookFailures();
    const sender = { deliver: jest.fn(async () => Promise.reject(new Error('receiver answered 503'))) };
    const worker = new WebhookWorker(sender as unknown as WebhookSender, failures, new MetricsService());

    await expect(worker.attempt(job, 1, 2)).rejects.toThrow('503');
    expect(await failures.list()).toEqual([]);
    await worker.attempt(job, 2, 2);
    expect(await failures.list()).toEqual([
      expect.objectContaining({ webhookId: 'msg_1', type: 'verification.approved', attempts: 2, lastError: 'receiver answered 503' }),
    ]);
    expect((await failures.list())[0]!.url).toBe('https://app.example.com/hooks');
  });
});

describe('webhook retries', () => {
  it('double from the first delay and stop within 24 h', () => {
    expect([1, 2, 3].map((attempt) => webhookRetryDelay(5000, attempt))).toEqual([5000, 10_000, 20_000]);
    const attempts = webhookAttempts(5000);
    const waited = Array.from({ length: attempts - 1 }, (_, i) => webhookRetryDelay(5000, i + 1)).reduce((a, b) => a + b, 0);
    expect(attempts).toBe(15);
    expect(waited).toBeLessThanOrEqual(24 * 60 * 60 * 1000);
    expect(waited + webhookRetryDelay(5000, attempts)).toBeGreaterThan(24 * 60 * 60 * 1000);
  });
});
