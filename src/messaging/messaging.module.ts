import { Module } from '@nestjs/common';
import { MessageRenderer } from './message-renderer.js';
import { MESSAGE_PROVIDER_CLASSES, PROVIDER_CHAINS, providerChainsProvider } from './provider-chains.js';

@Module({
  providers: [MessageRenderer, ...MESSAGE_PROVIDER_CLASSES, providerChainsProvider],
  exports: [PROVIDER_CHAINS, MessageRenderer],
})
export class MessagingModule {}
