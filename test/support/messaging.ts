import { Test, type TestingModule } from '@nestjs/testing';
import { configModuleFor } from '../../src/config/config.namespaces.js';
import type { Channel, ProviderTimeouts } from '../../src/config/configuration.types.js';
import { loadConfiguration } from '../../src/config/load-configuration.js';
import type { OutboundMessage, RenderedMessage } from '../../src/messaging/message-provider.js';
import { MessageRenderer } from '../../src/messaging/message-renderer.js';
import { MessagingModule } from '../../src/messaging/messaging.module.js';
import { PROVIDER_CHAINS, type ProviderChains } from '../../src/messaging/provider-chains.js';
import { MetricsModule } from '../../src/metrics/metrics.module.js';
import { RedisModule } from '../../src/redis/redis.module.js';
import { WebhooksModule } from '../../src/webhooks/webhooks.module.js';

/** Short enough that a hanging vendor fails a test in about a second, long enough for a loaded CI machine. */
export const FAST_TIMEOUTS: ProviderTimeouts = { connectMs: 800, requestMs: 1_200 };

export interface TestMessaging {
  module: TestingModule;
  chains: ProviderChains;
  /** The message as this module's FailoverSender hands it to a provider: rendered, with its settings (OTP_WEBOTP_DOMAIN). */
  render<C extends Channel>(message: OutboundMessage & { channel: C }): RenderedMessage<C>;
  get<T>(type: new (...args: never[]) => T): T;
  close(): Promise<void>;
}

/** The real MessagingModule, configured from the given variables alone, as the application wires it. */
export async function startMessaging(env: Record<string, string>, timeouts: ProviderTimeouts = FAST_TIMEOUTS): Promise<TestMessaging> {
  const { configuration } = loadConfiguration({ NODE_ENV: 'test', ...env });
  configuration.messaging = { ...configuration.messaging, timeouts };
  const module = await Test.createTestingModule({
    imports: [
      configModuleFor(configuration),
      MetricsModule,
      RedisModule,
      WebhooksModule.register(configuration),
      MessagingModule.register(configuration),
    ],
  }).compile();
  module.useLogger(false);
  await module.init();
  return {
    module,
    chains: module.get<ProviderChains>(PROVIDER_CHAINS),
    render: (message) => module.get(MessageRenderer).render(message),
    get: (type) => module.get(type),
    close: () => module.close(),
  };
}

let sequence = 0;

/** Renders as a module without OTP_WEBOTP_DOMAIN does; TestMessaging.render renders with a module's own settings. */
const renderer = new MessageRenderer({ webOtpDomain: undefined });

/** A code message valid for 10 minutes, rendered as the FailoverSender hands it to a provider. */
export function otpMessage<C extends Channel>(channel: C, to: string, overrides: Partial<OutboundMessage> = {}): RenderedMessage<C> {
  sequence += 1;
  return renderer.render({
    idempotencyKey: `ver_${sequence}:1`,
    verificationId: `ver_${sequence}`,
    to,
    template: 'otp',
    code: '493027',
    purpose: 'login',
    locale: 'en',
    expiresAt: new Date(Date.now() + 600_000),
    ...overrides,
    channel,
  });
}

/** The rejection of `promise`, to assert on its fields; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection, but it resolved');
}
