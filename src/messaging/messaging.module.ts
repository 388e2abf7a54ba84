import { Module } from '@nestjs/common';
import { OtpDelivery } from '../otp/delivery.port.js';
import { DeliveryService } from './delivery.service.js';

@Module({
  providers: [DeliveryService, { provide: OtpDelivery, useExisting: DeliveryService }],
  exports: [OtpDelivery],
})
export class MessagingModule {}
