import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { droppedLogLines } from '../logging/logger.js';

/**
 * Every series the service exports, on one registry per application (so tests can run several
 * apps in one process). Labels stay bounded: channels, provider ids, results, routes — never a
 * destination, an id or a code.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly verificationsStarted = new Counter({
    name: 'otp_verifications_started_total',
    help: 'Verifications started or re-sent, by channel, kind (new, resend) and, for the Verifications API, the name of the API key',
    labelNames: ['channel', 'kind', 'api_key'] as const,
    registers: [this.registry],
  });

  readonly verificationsApproved = new Counter({
    name: 'otp_verifications_approved_total',
    help: 'Verifications approved, by channel',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });

  readonly verificationsFailed = new Counter({
    name: 'otp_verifications_failed_total',
    help: 'Verifications whose code could not be delivered, by channel',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });

  readonly checks = new Counter({
    name: 'otp_checks_total',
    help: 'Code checks by result (approved, incorrect, locked, not_found)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly messages = new Counter({
    name: 'otp_messages_total',
    help: 'Send attempts by channel, provider and result (sent, failed, permanent)',
    labelNames: ['channel', 'provider', 'result'] as const,
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'otp_deliveries_total',
    help: 'Deliveries that ended, by channel and result (sent, failed)',
    labelNames: ['channel', 'result'] as const,
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: 'otp_delivery_latency_seconds',
    help: 'Time from a code being issued to a provider accepting it',
    labelNames: ['channel', 'provider'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly providerLatency = new Histogram({
    name: 'otp_provider_send_seconds',
    help: 'Duration of one provider send call, by channel, provider and result',
    labelNames: ['channel', 'provider', 'result'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly httpLatency = new Histogram({
    name: 'otp_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly circuitState = new Gauge({
    name: 'otp_provider_circuit_state',
    help: 'Circuit state per provider: 0 closed, 1 half open, 2 open',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'otp_delivery_queue_jobs',
    help: 'Delivery jobs by state (waiting, active, delayed, failed)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly deliveryWorkers = new Gauge({
    name: 'otp_delivery_workers',
    help: 'Processes working on the delivery queue, across replicas (0 with messages queued: nothing is sent)',
    registers: [this.registry],
  });

  readonly channelUsable = new Gauge({
    name: 'otp_channel_usable',
    help:
      'Enabled channels: 1 while one of its providers is healthy, 0 when none is (its codes cannot be delivered), ' +
      'as this replica sees them',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });

  readonly providerHealthy = new Gauge({
    name: 'otp_provider_healthy',
    help: 'Providers of each enabled channel: 1 when configured, circuit not open and the latest probe passed, else 0',
    labelNames: ['channel', 'provider'] as const,
    registers: [this.registry],
  });

  readonly fraudRefusals = new Counter({
    name: 'otp_fraud_refusals_total',
    help:
      'Sends the fraud guard refused, by reason (prefix, country, channel: an hourly cap; suspended: the country is suspended) ' +
      'and destination country (none for a channel cap on email)',
    labelNames: ['reason', 'country'] as const,
    registers: [this.registry],
  });

  readonly fraudSuspensions = new Counter({
    name: 'otp_fraud_suspensions_total',
    help: 'Countries suspended by the fraud guard because too few of their codes were entered, counted by the replica that suspended them',
    labelNames: ['country'] as const,
    registers: [this.registry],
  });

  readonly fraudSuspended = new Gauge({
    name: 'otp_fraud_suspended',
    help: 'Countries suspended by the fraud guard now (1 each), as shared by every replica',
    labelNames: ['country'] as const,
    registers: [this.registry],
  });

  readonly conversions = new Counter({
    name: 'otp_conversion_total',
    help:
      'Codes by stage (started: accepted by a provider; delivered, undelivered: its receipt; approved: entered), ' +
      'channel, provider and destination country (none for email)',
    labelNames: ['stage', 'channel', 'provider', 'country'] as const,
    registers: [this.registry],
  });

  readonly providerSuspect = new Gauge({
    name: 'otp_provider_suspect',
    help: "1 while a provider's codes of the last hour are accepted but too few are entered (SUSPECT_MIN_APPROVAL), else 0",
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly receipts = new Counter({
    name: 'otp_receipts_total',
    help: 'Delivery receipts received, by vendor and result (applied, ignored, unknown, unsigned)',
    labelNames: ['vendor', 'result'] as const,
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: 'otp_events_total',
    help: 'Outgoing event deliveries by result (delivered, retried, exhausted)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly logLinesDropped = new Counter({
    name: 'otp_log_lines_dropped_total',
    help: 'Log lines dropped because standard output was not read as fast as they were written (its buffer full)',
    registers: [this.registry],
    // The process's count, kept by the logger from before Nest starts.
    collect: () => {
      const dropped = droppedLogLines();
      if (dropped > this.logLinesCounted) this.logLinesDropped.inc(dropped - this.logLinesCounted);
      this.logLinesCounted = Math.max(dropped, this.logLinesCounted);
    },
  });
  /** How many of the process's dropped log lines this registry has counted. */
  private logLinesCounted = 0;

  private readonly beforeScrape: (() => Promise<void>)[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Gauges read from elsewhere (queue depth) are refreshed just before each scrape. */
  refreshBeforeScrape(refresh: () => Promise<void>): void {
    this.beforeScrape.push(refresh);
  }

  async scrape(): Promise<string> {
    await Promise.all(this.beforeScrape.map((refresh) => refresh().catch(() => undefined)));
    return this.registry.metrics();
  }
}
