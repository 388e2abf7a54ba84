import type { Channel } from '../config/configuration.types.js';
import type { MessageProvider } from './message-provider.js';

/** Each channel's providers in failover order, as EMAIL_PROVIDERS / SMS_PROVIDERS / WHATSAPP_PROVIDERS say. */
export type ProviderChains = Record<Channel, MessageProvider[]>;

export const PROVIDER_CHAINS = Symbol('PROVIDER_CHAINS');
