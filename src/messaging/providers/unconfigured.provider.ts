import type { Channel, ProviderId, ProviderState } from '../../config/configuration.types.js';
import { type CodeCheckingProvider, ProviderError, type SendResult } from '../message-provider.js';

/**
 * Stands in a chain for a provider named without its settings, which is never built: health can say
 * what is missing, and development still starts (the configuration has already warned, or refused to
 * start in production). The FailoverSender skips it; asked anyway, it fails the way a refused
 * credential does, so whatever asked moves on.
 */
export class UnconfiguredProvider implements CodeCheckingProvider {
  readonly configured = false;

  constructor(
    readonly id: ProviderId,
    readonly channel: Channel,
    private readonly state: ProviderState,
  ) {}

  send(): Promise<SendResult> {
    return Promise.reject(this.notConfigured());
  }

  probe(): Promise<void> {
    return Promise.reject(this.notConfigured());
  }

  /** A code a provider issued before a restart without its settings cannot be checked: the same refusal. */
  checkCode(): Promise<boolean> {
    return Promise.reject(this.notConfigured());
  }

  private notConfigured(): ProviderError {
    return new ProviderError(this.id, 'auth', `${this.id} is not configured (${this.state.missing.join(', ')} missing)`);
  }
}
