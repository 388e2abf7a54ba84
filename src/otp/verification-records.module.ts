import { Module } from '@nestjs/common';
import { byRedis } from '../redis/redis-or-memory.js';
import { DeliveryReports } from './delivery.port.js';
import { DeliveryStatusRecorder } from './delivery-status.recorder.js';
import { MemoryOtpStore } from './store/memory-otp.store.js';
import { OtpStore } from './store/otp-store.js';
import { RedisOtpStore } from './store/redis-otp.store.js';

/**
 * Where verifications are kept, and the port delivery reports reach them through. It sits below both
 * the verification lifecycle (OtpModule) and messaging, which reports into it: neither imports the other.
 */
@Module({
  providers: [
    { provide: OtpStore, ...byRedis<OtpStore>(RedisOtpStore, MemoryOtpStore) },
    DeliveryStatusRecorder,
    { provide: DeliveryReports, useExisting: DeliveryStatusRecorder },
  ],
  exports: [OtpStore, DeliveryReports],
})
export class VerificationRecordsModule {}
