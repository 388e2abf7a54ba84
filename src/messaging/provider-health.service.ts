import { Inject, Injectable } from '@nestjs/common';
import { messagingConfig } from '../config/config.namespaces.js';
import type { Channel, MessagingConfig, ProviderId } from '../config/configuration.types.js';
import type { MessageProvider } from './message-provider.js';
import { ProviderActivityLog } from './provider-activity.js';
import { PROVIDER_CHAINS, type ProviderChains } from './provider-chains.js';
import { ProviderCircuits, type CircuitView } from './provider-circuits.js';

/** At most one probe per provider per 30 s: probes are free, but vendors rate-limit account reads too. */
export const PROBE_CACHE_MS = 30_000;
const PROBE_TIMEOUT_MS = 5_000;

export interface ProviderHealth {
  id: ProviderId;
  priority: number;
  configured: boolean;
  /** Configured, circuit not open, and the latest probe passed. */
  healthy: boolean;
  circuit: CircuitView;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
  sent: number;
  failed: number;
}

export interface ChannelHealth {
  status: 'up' | 'down';
  providers: ProviderHealth[];
}

interface Probe {
  ok: boolean;
  error: string | null;
  at: number;
}

/**
 * Per-provider health for people and for readiness: what the circuit says, what the last sends
 * did, and a cached probe that sends nothing and costs nothing. It informs; it does not decide
 * whether a send is attempted (a short outage is ridden out by retries, not refused).
 */
@Injectable()
export class ProviderHealthService {
  private readonly probes = new Map<ProviderId, Promise<Probe>>();

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    @Inject(PROVIDER_CHAINS) private readonly chains: ProviderChains,
    private readonly circuits: ProviderCircuits,
    private readonly activity: ProviderActivityLog,
  ) {}

  /** Every enabled channel with its chain, in order. */
  async channels(): Promise<Partial<Record<Channel, ChannelHealth>>> {
    const result: Partial<Record<Channel, ChannelHealth>> = {};
    await Promise.all(
      this.config.channels.map(async (channel) => {
        const providers = await Promise.all(this.chains[channel].map((provider, index) => this.providerHealth(provider, index + 1)));
        result[channel] = { status: providers.some((p) => p.healthy) ? 'up' : 'down', providers };
      }),
    );
    return result;
  }

  private async providerHealth(provider: MessageProvider, priority: number): Promise<ProviderHealth> {
    const circuit = this.circuits.state(provider.id);
    const probe = provider.configured ? await this.probe(provider) : { ok: false, error: 'not configured', at: Date.now() };
    const activity = this.activity.get(provider.id);
    return {
      id: provider.id,
      priority,
      configured: provider.configured,
      healthy: provider.configured && circuit !== 'open' && probe.ok,
      circuit,
      lastSuccessAt: activity.lastSuccessAt?.toISOString() ?? null,
      lastFailureAt: activity.lastFailureAt?.toISOString() ?? null,
      lastError: activity.lastError ?? (probe.ok ? null : probe.error),
      sent: activity.sent,
      failed: activity.failed,
    };
  }

  private probe(provider: MessageProvider): Promise<Probe> {
    const cached = this.probes.get(provider.id);
    if (cached) return cached;
    const running = runProbe(provider);
    this.probes.set(provider.id, running);
    void running.then(() => setTimeout(() => this.probes.delete(provider.id), PROBE_CACHE_MS).unref());
    return running;
  }
}

async function runProbe(provider: MessageProvider): Promise<Probe> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      provider.probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`probe timed out after ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, error: null, at: Date.now() };
  } catch (error) {
    return { ok: false, error: `probe failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300), at: Date.now() };
  } finally {
    clearTimeout(timer);
  }
}
