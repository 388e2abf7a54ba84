import { BullModule } from '@nestjs/bull';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { usesRedis, type AppConfiguration, type RedisConfig } from '../config/configuration.types.js';
import { OtpDelivery } from '../otp/delivery.port.js';
import { VerificationRecordsModule } from '../otp/verification-records.module.js';
import { openRedis, type RedisClient } from '../redis/redis-connection.js';
import { REDIS_CLIENT } from '../redis/redis.constants.js';
import { BOUNDED_BACKOFF, BULL_CONNECTIONS, BullDeliveryQueue } from './delivery/bull-delivery.queue.js';
import { DELIVERY_QUEUE_NAME, DeliveryQueue, retryDelay } from './delivery/delivery-job.js';
import { DeliveryLedger, MemoryDeliveryLedger, RedisDeliveryLedger } from './delivery/delivery-ledger.js';
import { DeliveryWorker } from './delivery/delivery-worker.js';
import { DeliveryProcessor } from './delivery/delivery.processor.js';
import { InProcessDeliveryQueue } from './delivery/in-process-delivery.queue.js';
import { PayloadSealer } from './delivery/sealed-payload.js';
import { ChannelHealthMetrics } from './channel-health.metrics.js';
import { DeliveryService } from './delivery.service.js';
import { FailoverSender } from './failover-sender.js';
import { Notifier } from './notifier.js';
import { ProviderActivityLog } from './provider-activity.js';
import { ProviderHealthService } from './provider-health.service.js';
import { MessageRenderer } from './message-renderer.js';
import { PROVIDER_CHAINS, providerChains } from './provider-chains.js';
import { ProviderCircuits } from './provider-circuits.js';
import { ConversionCounts, MemoryConversionCounts, RedisConversionCounts } from './provider-conversion.js';
import { DeliveryConversion } from './delivery-conversion.js';
import { ReceiptSignatures } from './receipts/receipt-signatures.js';
import { ReceiptService } from './receipts/receipt.service.js';
import { ReceiptsController } from './receipts/receipts.controller.js';

/**
 * Enough retries for a command of Bull's waiting connections to outlast a Cluster whose nodes are
 * restarting (about 100 ms each), instead of the API's fail-fast few. Bull subscribes to its delayed
 * jobs' channel as its worker starts and drops that promise: on a Cluster that has just come back,
 * the subscription failed after 6 redirections, and the unhandled rejection ended the process.
 */
export const BULL_WAITING_REDIRECTIONS = 1000;

/**
 * Bull's own connections, to the same server or cluster as everything else; its blocking and
 * subscriber connections must wait out outages rather than fail commands. Bull does not close
 * connections it did not create, so they are kept for shutdown.
 */
export function bullClient(config: RedisConfig, opened: RedisClient[], name = 'otp-delivery') {
  return (type: 'client' | 'subscriber' | 'bclient') => {
    const waits = type !== 'client';
    const client = openRedis(
      config,
      {
        connectionName: `${name}-${type}`,
        maxRetriesPerRequest: waits ? null : 1,
        enableReadyCheck: !waits,
        enableOfflineQueue: waits,
        // No auto-pipelining, for the reason given at FAIL_FAST_OPTIONS.
        enableAutoPipelining: false,
        connectTimeout: 2000,
        // Adding a job is part of answering a send: bounded like every other command on that path.
        commandTimeout: waits ? undefined : 1500,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      },
      waits ? { maxRedirections: BULL_WAITING_REDIRECTIONS } : {},
    );
    if (type === 'bclient') settleSetName(client);
    opened.push(client);
    return client;
  };
}

/**
 * Bull names its blocking connection with CLIENT SETNAME from a promise that nothing handles
 * (`Queue#setWorkerName`). When Redis was not ready as the worker started, that command is sent after
 * the worker's BRPOPLPUSHes and waits behind them; closing the queue then rejects it, and the
 * unhandled rejection ends the process in the middle of its shutdown. Nothing is lost by settling it:
 * Bull has set `options.connectionName` first, and ioredis names the connection on every connect.
 */
function settleSetName(client: RedisClient): void {
  const send = client.client.bind(client) as (...args: unknown[]) => Promise<unknown>;
  client.client = ((...args: unknown[]) => {
    const sent = send(...args);
    return typeof args[0] === 'string' && args[0].toLowerCase() === 'setname' ? sent.catch(() => 'OK') : sent;
  }) as RedisClient['client'];
}

@Module({})
export class MessagingModule {
  /** Durable delivery on Bull when Redis is configured; in-process delivery with the same rules otherwise. */
  static register(configuration: AppConfiguration): DynamicModule {
    const durable = usesRedis(configuration.redis);
    const bullConnections: RedisClient[] = [];
    const queueProviders: Provider[] = durable
      ? [
          BullDeliveryQueue,
          // API-only replicas queue and leave the sending to worker replicas (DELIVERY_WORKER=false).
          ...(configuration.messaging.delivery.worker ? [DeliveryProcessor] : []),
          { provide: DeliveryQueue, useExisting: BullDeliveryQueue },
          { provide: BULL_CONNECTIONS, useValue: bullConnections },
        ]
      : [InProcessDeliveryQueue, { provide: DeliveryQueue, useExisting: InProcessDeliveryQueue }];
    const queueImports = durable
      ? [
          BullModule.registerQueue({
            name: DELIVERY_QUEUE_NAME,
            // One hash tag for every key of the queue, so Bull's scripts run on Redis Cluster.
            prefix: '{otp-delivery}',
            createClient: bullClient(configuration.redis, bullConnections),
            settings: {
              backoffStrategies: {
                [BOUNDED_BACKOFF]: (attemptsMade: number, _error: Error, options: { baseMs: number; expiresAt: number }) =>
                  retryDelay(options.baseMs, attemptsMade, options.expiresAt),
              },
            },
          }),
        ]
      : [];
    return {
      module: MessagingModule,
      global: true,
      // Delivery reports reach the verifications through the port the OTP core provides in VerificationRecordsModule.
      imports: [VerificationRecordsModule, ...queueImports],
      controllers: [ReceiptsController],
      providers: [
        ...queueProviders,
        MessageRenderer,
        ...providerChains(configuration.messaging),
        {
          provide: DeliveryLedger,
          inject: [REDIS_CLIENT],
          useFactory: (client: RedisClient | null): DeliveryLedger =>
            client ? new RedisDeliveryLedger(client) : new MemoryDeliveryLedger(),
        },
        PayloadSealer,
        {
          provide: ConversionCounts,
          inject: [REDIS_CLIENT],
          useFactory: (client: RedisClient | null): ConversionCounts =>
            client ? new RedisConversionCounts(client) : new MemoryConversionCounts(),
        },
        DeliveryConversion,
        ReceiptSignatures,
        ReceiptService,
        ProviderCircuits,
        ProviderActivityLog,
        ProviderHealthService,
        ChannelHealthMetrics,
        FailoverSender,
        DeliveryWorker,
        DeliveryService,
        { provide: OtpDelivery, useExisting: DeliveryService },
        { provide: Notifier, useExisting: DeliveryService },
      ],
      exports: [
        DeliveryConversion,
        OtpDelivery,
        Notifier,
        PROVIDER_CHAINS,
        MessageRenderer,
        ProviderCircuits,
        ProviderActivityLog,
        ProviderHealthService,
        DeliveryQueue,
      ],
    };
  }
}
