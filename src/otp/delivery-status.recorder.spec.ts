import { jest } from '@jest/globals';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeliveryStatusRecorder } from './delivery-status.recorder.js';
import type { OtpStore } from './store/otp-store.js';

describe('DeliveryStatusRecorder', () => {
  it('records delivery reports in the store', async () => {
    const store = { updateDelivery: jest.fn(async () => 'applied' as const), get: jest.fn(async () => undefined) };
    const recorder = new DeliveryStatusRecorder(store as unknown as OtpStore, new MetricsService(), {
      enabled: false,
      publish: jest.fn(async () => undefined),
    });

    await recorder.record({ verificationId: 'v', sendNumber: 1, status: 'sent', provider: 'smtp', attempts: 1 });

    const update = { sendNumber: 1, status: 'sent', provider: 'smtp', attempts: 1 };
    expect(store.updateDelivery).toHaveBeenCalledWith('v', update, expect.any(Number));
  });
});
