import { Inject, Injectable, Logger } from '@nestjs/common';
import { messagingConfig } from '../config/config.namespaces.js';
import type { Channel, MessagingConfig, ProviderId } from '../config/configuration.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeliveryConversion } from './delivery-conversion.js';
import { maskDestinations } from './masked-text.js';
import type { ConversionFigures } from './provider-conversion.js';
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
  lastHour: ConversionFigures;
  suspect: boolean;
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
  private readonly logger = new Logger('Messaging');
  private readonly probes = new Map<ProviderId, Promise<Probe>>();
  private readonly latest = new Map<ProviderId, Probe>();
  /** Whether each channel was usable when last looked at, so a change is logged once. */
  private readonly usable = new Map<Channel, boolean>();

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    @Inject(PROVIDER_CHAINS) private readonly chains: ProviderChains,
    private readonly circuits: ProviderCircuits,
    private readonly activity: ProviderActivityLog,
    private readonly metrics: MetricsService,
    private readonly conversion: DeliveryConversion,
  ) {
    metrics.refreshBeforeScrape(async () => void (await this.channels()));
  }

  /** Every enabled channel with its chain, in order. */
  async channels(): Promise<Partial<Record<Channel, ChannelHealth>>> {
    const result: Partial<Record<Channel, ChannelHealth>> = {};
    await Promise.all(
      this.config.channels.map(async (channel) => {
        const providers = await Promise.all(this.chains[channel].map((provider, index) => this.providerHealth(provider, index + 1)));
        result[channel] = { status: providers.some((p) => p.healthy) ? 'up' : 'down', providers };
        this.record(channel, result[channel]);
      }),
    );
    return result;
  }

  /**
   * Probes every configured provider now (once; later calls share the cached result), for the
   * start-up report: by provider, null when it answered, else why not.
   */
  async probeAll(): Promise<Partial<Record<ProviderId, string | null>>> {
    const results: Partial<Record<ProviderId, string | null>> = {};
    const providers = [...new Map(this.config.channels.flatMap((channel) => this.chains[channel]).map((p) => [p.id, p])).values()];
    await Promise.all(
      providers
        .filter((provider) => provider.configured)
        .map(async (provider) => {
          const probe = await this.probe(provider);
          results[provider.id] = probe.ok ? null : probe.error;
        }),
    );
    return results;
  }

  /** The gauge, and one WARN line when a channel loses its last usable provider (one more when it has one again). */
  private record(channel: Channel, health: ChannelHealth): void {
    const usable = health.status === 'up';
    this.metrics.channelUsable.set({ channel }, usable ? 1 : 0);
    const before = this.usable.get(channel);
    this.usable.set(channel, usable);
    if (before === usable || (usable && before === undefined)) return;
    const states = health.providers.map((p) => {
      const state = p.healthy
        ? 'healthy'
        : !p.configured
          ? 'not configured'
          : p.circuit === 'open'
            ? 'circuit open'
            : (p.lastError ?? 'unhealthy');
      return `${p.id}: ${state}`;
    });
    if (usable) {
      this.logger.warn({ msg: `${channel}: usable again (${states.join('; ')})`, channel, usable });
    } else {
      this.logger.warn({
        msg: `${channel}: no usable provider, codes cannot be sent on this channel (${states.join('; ')})`,
        channel,
        usable,
      });
    }
  }

  private async providerHealth(provider: MessageProvider, priority: number): Promise<ProviderHealth> {
    const circuit = this.circuits.state(provider.id);
    const probe = provider.configured ? await this.probe(provider) : { ok: false, error: 'not configured', at: Date.now() };
    const activity = this.activity.get(provider.id);
    const conversion = await this.conversion
      .view(provider.id)
      .catch(() => ({ lastHour: { sent: 0, delivered: 0, undelivered: 0, approved: 0 }, suspect: false }));
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
      lastHour: conversion.lastHour,
      suspect: conversion.suspect,
    };
  }

  /**
   * Only the very first look waits for a probe. Afterwards the latest result is answered while the next
   * probe runs, so readiness and scrapes never wait on a slow or hanging vendor (up to the probe timeout).
   */
  private probe(provider: MessageProvider): Promise<Probe> {
    let running = this.probes.get(provider.id);
    if (!running) {
      running = runProbe(provider).then((probe) => {
        this.latest.set(provider.id, probe);
        return probe;
      });
      this.probes.set(provider.id, running);
      void running.then(() => setTimeout(() => this.probes.delete(provider.id), PROBE_CACHE_MS).unref());
    }
    const latest = this.latest.get(provider.id);
    return latest ? Promise.resolve(latest) : running;
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
    return {
      ok: false,
      error: `probe failed: ${maskDestinations(error instanceof Error ? error.message : String(error))}`.slice(0, 300),
      at: Date.now(),
    };
  } finally {
    clearTimeout(timer);
  }
}
