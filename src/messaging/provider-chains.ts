import type { Provider, Type } from '@nestjs/common';
import { messagingConfig } from '../config/config.namespaces.js';
import { CHAIN_VARIABLE, CHANNELS, type Channel, type MessagingConfig, type ProviderId } from '../config/configuration.types.js';
import type { MessageProvider } from './message-provider.js';
import { ConsoleEmailProvider, ConsoleSmsProvider, ConsoleWhatsappProvider } from './providers/console/console.provider.js';
import { SendgridProvider } from './providers/email/sendgrid.provider.js';
import { SesProvider } from './providers/email/ses.provider.js';
import { SmtpProvider } from './providers/email/smtp.provider.js';
import { SnsProvider } from './providers/sms/sns.provider.js';
import { TwilioSmsProvider } from './providers/sms/twilio-sms.provider.js';
import { TwilioVerifyProvider } from './providers/sms/twilio-verify.provider.js';
import { UnconfiguredProvider } from './providers/unconfigured.provider.js';
import { TwilioWhatsappProvider } from './providers/whatsapp/twilio-whatsapp.provider.js';

/** Each channel's providers in the order the configuration gives: the first is tried first. */
export type ProviderChains = Record<Channel, MessageProvider[]>;

/** Inject with `@Inject(PROVIDER_CHAINS) chains: ProviderChains`. */
export const PROVIDER_CHAINS = Symbol('PROVIDER_CHAINS');

type ChainSettings = Pick<MessagingConfig, 'chains' | 'providers'>;

/** The class that serves each provider name on each channel. */
export const PROVIDER_CLASSES: { readonly [C in Channel]: Partial<Record<ProviderId, Type<MessageProvider<C>>>> } = {
  email: { smtp: SmtpProvider, ses: SesProvider, sendgrid: SendgridProvider, console: ConsoleEmailProvider },
  sms: { 'twilio-verify': TwilioVerifyProvider, twilio: TwilioSmsProvider, sns: SnsProvider, console: ConsoleSmsProvider },
  whatsapp: { 'twilio-whatsapp': TwilioWhatsappProvider, console: ConsoleWhatsappProvider },
};

/** The provider classes to build: those a chain names and that have their settings. No other is instantiated. */
export function providerClassesFor(config: ChainSettings): Type<MessageProvider>[] {
  const classes = new Set<Type<MessageProvider>>();
  for (const channel of CHANNELS) {
    for (const id of config.chains[channel]) {
      const state = config.providers[id];
      const type = PROVIDER_CLASSES[channel][id] as Type<MessageProvider> | undefined;
      if (type && state?.configured && state.allowed) classes.add(type);
    }
  }
  return [...classes];
}

/**
 * Orders the built providers by EMAIL_PROVIDERS / SMS_PROVIDERS / WHATSAPP_PROVIDERS. A provider named
 * without its settings stands in its chain as an UnconfiguredProvider; a name that is no provider of
 * the channel, or one not allowed in this mode, is refused here.
 */
export function buildProviderChains(config: ChainSettings, providers: readonly MessageProvider[]): ProviderChains {
  const chains = {} as ProviderChains;
  for (const channel of CHANNELS) {
    const variable = CHAIN_VARIABLE[channel];
    chains[channel] = config.chains[channel].map((id) => {
      if (!PROVIDER_CLASSES[channel][id]) throw new Error(`${variable} names "${id}", which is not a ${channel} provider`);
      const state = config.providers[id];
      if (state?.allowed === false) throw new Error(`${variable} must not include "${id}" in this mode`);
      const built = providers.find((candidate) => candidate.channel === channel && candidate.id === id);
      return built ?? new UnconfiguredProvider(id, channel, state);
    });
  }
  return chains;
}

/** The providers the chains need, and the chains built from them: Nest has no multi-providers, so the factory injects each by class. */
export function providerChains(config: ChainSettings): Provider[] {
  const classes = providerClassesFor(config);
  return [
    ...classes,
    {
      provide: PROVIDER_CHAINS,
      inject: [messagingConfig.KEY, ...classes],
      useFactory: (settings: MessagingConfig, ...providers: MessageProvider[]) => buildProviderChains(settings, providers),
    },
  ];
}
