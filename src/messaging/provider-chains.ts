import type { FactoryProvider } from '@nestjs/common';
import { messagingConfig } from '../config/config.namespaces.js';
import { CHAIN_VARIABLE, CHANNELS, type Channel, type MessagingConfig } from '../config/configuration.types.js';
import type { MessageProvider } from './message-provider.js';
import { ConsoleEmailProvider, ConsoleSmsProvider, ConsoleWhatsappProvider } from './providers/console/console.provider.js';
import { SendgridProvider } from './providers/email/sendgrid.provider.js';
import { SesProvider } from './providers/email/ses.provider.js';
import { SmtpProvider } from './providers/email/smtp.provider.js';
import { SnsProvider } from './providers/sms/sns.provider.js';
import { TwilioSmsProvider } from './providers/sms/twilio-sms.provider.js';
import { TwilioVerifyProvider } from './providers/sms/twilio-verify.provider.js';
import { TwilioWhatsappProvider } from './providers/whatsapp/twilio-whatsapp.provider.js';

/** Each channel's providers in the order the configuration gives: the first is tried first. */
export type ProviderChains = Record<Channel, MessageProvider[]>;

/** Inject with `@Inject(PROVIDER_CHAINS) chains: ProviderChains`. */
export const PROVIDER_CHAINS = Symbol('PROVIDER_CHAINS');

/** Every concrete provider; Nest has no multi-providers, so the chain factory injects them all by class. */
export const MESSAGE_PROVIDER_CLASSES = [
  SmtpProvider,
  SesProvider,
  SendgridProvider,
  ConsoleEmailProvider,
  TwilioVerifyProvider,
  TwilioSmsProvider,
  SnsProvider,
  ConsoleSmsProvider,
  TwilioWhatsappProvider,
  ConsoleWhatsappProvider,
] as const;

/**
 * Orders the providers by EMAIL_PROVIDERS / SMS_PROVIDERS / WHATSAPP_PROVIDERS. A provider without its
 * settings stays in its chain with `configured: false`, so health can show what is missing and
 * development still starts (the configuration has already warned, or refused to start in production);
 * a name that is no provider of the channel, or one not allowed in this mode, is refused here.
 */
export function buildProviderChains(config: Pick<MessagingConfig, 'chains' | 'providers'>, providers: readonly MessageProvider[]): ProviderChains {
  const chains = {} as ProviderChains;
  for (const channel of CHANNELS) {
    const variable = CHAIN_VARIABLE[channel];
    chains[channel] = config.chains[channel].map((id) => {
      const provider = providers.find((candidate) => candidate.channel === channel && candidate.id === id);
      if (!provider) throw new Error(`${variable} names "${id}", which is not a ${channel} provider`);
      if (config.providers[id]?.allowed === false) {
        throw new Error(`${variable} must not include "${id}" in this mode`);
      }
      return provider;
    });
  }
  return chains;
}

export const providerChainsProvider: FactoryProvider<ProviderChains> = {
  provide: PROVIDER_CHAINS,
  inject: [messagingConfig.KEY, ...MESSAGE_PROVIDER_CLASSES],
  useFactory: (config: MessagingConfig, ...providers: MessageProvider[]) => buildProviderChains(config, providers),
};
