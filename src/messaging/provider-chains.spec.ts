import type { Channel, MessagingConfig, ProviderId, ProviderState } from '../config/configuration.types.js';
import type { MessageProvider } from './message-provider.js';
import { buildProviderChains, providerClassesFor } from './provider-chains.js';
import { ConsoleEmailProvider, ConsoleSmsProvider } from './providers/console/console.provider.js';
import { SesProvider } from './providers/email/ses.provider.js';
import { UnconfiguredProvider } from './providers/unconfigured.provider.js';

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

    expect(() =>
      buildProviderChains({ chains: { email: ['smtp'], sms: ['twilio', 'console'], whatsapp: [] }, providers: production }, ALL),
    ).toThrow('SMS_PROVIDERS must not include "console" in this mode');
  });

  it('stands a provider named without its settings in its chain, saying what is missing', async () => {
    const missing = states({ smtp: { configured: false, missing: ['SMTP_HOST', 'SMTP_FROM'], allowed: true } });

    const chains = buildProviderChains({ chains: { email: ['smtp', 'console'], sms: [], whatsapp: [] }, providers: missing }, [ALL[2]!]);

    expect(chains.email[0]).toBeInstanceOf(UnconfiguredProvider);
    expect(chains.email[0]).toMatchObject({ id: 'smtp', channel: 'email', configured: false });
    expect(chains.email[1]).toBe(ALL[2]);
    await expect(chains.email[0]!.send(undefined as never)).rejects.toMatchObject({
      provider: 'smtp',
      kind: 'auth',
      message: 'smtp is not configured (SMTP_HOST, SMTP_FROM missing)',
    });
  });
});

describe('providerClassesFor', () => {
  it('builds only the providers a chain names and that have their settings', () => {
    const missing = states({ smtp: { configured: false, missing: ['SMTP_HOST'], allowed: true } });

    const chains = { email: ['smtp', 'ses', 'console'], sms: ['console'], whatsapp: [] } satisfies MessagingConfig['chains'];

    const classes = providerClassesFor({ chains, providers: missing });

    expect(classes).toEqual([SesProvider, ConsoleEmailProvider, ConsoleSmsProvider]);
  });
});
