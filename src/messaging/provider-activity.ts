import { Injectable } from '@nestjs/common';
import type { ProviderId } from '../config/configuration.types.js';

export interface ProviderActivity {
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  sent: number;
  failed: number;
}

/** What each provider did in this process, for /health/messaging. */
@Injectable()
export class ProviderActivityLog {
  private readonly activity = new Map<ProviderId, ProviderActivity>();

  succeeded(provider: ProviderId): void {
    const entry = this.entry(provider);
    entry.sent += 1;
    entry.lastSuccessAt = new Date();
  }

  failed(provider: ProviderId, error: string): void {
    const entry = this.entry(provider);
    entry.failed += 1;
    entry.lastFailureAt = new Date();
    entry.lastError = error;
  }

  get(provider: ProviderId): ProviderActivity {
    return { ...this.entry(provider) };
  }

  private entry(provider: ProviderId): ProviderActivity {
    let entry = this.activity.get(provider);
    if (!entry) {
      entry = { lastSuccessAt: null, lastFailureAt: null, lastError: null, sent: 0, failed: 0 };
      this.activity.set(provider, entry);
    }
    return entry;
  }
}
