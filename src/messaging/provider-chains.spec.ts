import type { Channel, MessagingConfig, ProviderId, ProviderState } from '../config/configuration.types.js';
import type { MessageProvider } from './message-provider.js';
import { buildProviderChains } from './provider-chains.js';

const provider = (channel: Channel, id: ProviderId): MessageProvider => ({
  id,
  channel,
  configured: true,
  send: () => Promise.reject(new Error('not used')),
  probe: () => Promise.resolve(),
});

const ALL = [
  provider('email', 'smtp'),
  provider('email', 'ses'),
  provider('email', 'console'),
  provider('sms', 'twilio'),
  provider('sms', 'console'),
  provider('whatsapp', 'twilio-whatsapp'),
];

const allowed: ProviderState = { configured: true, missing: [], allowed: true };
const states = (overrides: Partial<Record<ProviderId, ProviderState>> = {}) =>
  new Proxy(overrides, { get: (target, id: string) => target[id as ProviderId] ?? allowed }) as MessagingConfig['providers'];

describe('buildProviderChains', () => {
  it('orders each chain as configured and takes the instance serving that channel', () => {
    const chains = buildProviderChains(
      { chains: { email: ['console', 'smtp'], sms: ['console', 'twilio'], whatsapp: [] }, providers: states() },
      ALL,
    );

    expect(chains.email).toEqual([ALL[2], ALL[0]]);
    expect(chains.sms).toEqual([ALL[4], ALL[3]]);
    expect(chains.whatsapp).toEqual([]);
  });

  it('refuses a name that is not a provider of the channel, naming the variable', () => {
    expect(() =>
      buildProviderChains({ chains: { email: ['twilio' as ProviderId], sms: [], whatsapp: [] }, providers: states() }, ALL),
    ).toThrow('EMAIL_PROVIDERS names "twilio", which is not a email provider');
  });

  it('refuses a provider not allowed in this mode (console in production)', () => {
    const production = states({ console: { configured: true, missing: [], allowed: false } });

    expect(() => buildProviderChains({ chains: { email: ['smtp'], sms: ['twilio', 'console'], whatsapp: [] }, providers: production }, ALL)).toThrow(
      'SMS_PROVIDERS must not include "console" in this mode',
    );
  });
});
