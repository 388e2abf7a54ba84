import { jest } from '@jest/globals';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { loadConfiguration } from '../config/load-configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FailoverSender, MessageRenderingError } from './failover-sender.js';
import type { MessageProvider, OutboundMessage, RenderedMessage, SendResult } from './message-provider.js';
import { MessageRenderer } from './message-renderer.js';
import { ProviderActivityLog } from './provider-activity.js';
import type { ProviderChains } from './provider-chains.js';
import { ProviderCircuits } from './provider-circuits.js';

const message = (): OutboundMessage => ({
  idempotencyKey: 'ver_1:1',
  verificationId: 'ver_1',
  channel: 'sms',
  to: '+447911123456',
  template: 'otp',
  code: '493027',
  purpose: 'login',
  locale: 'en',
  expiresAt: new Date(Date.now() + 600_000),
});

describe('FailoverSender', () => {
  const { messaging } = loadConfiguration({ NODE_ENV: 'test' }).configuration;
  let send: jest.Mock<(message: RenderedMessage<'sms'>) => Promise<SendResult>>;
  let twilio: MessageProvider<'sms'>;
  let circuits: ProviderCircuits;
  let activity: ProviderActivityLog;
  let templates: string;

  const senderWith = (renderer: MessageRenderer) =>
    new FailoverSender({ email: [], sms: [twilio], whatsapp: [] } as ProviderChains, circuits, activity, new MetricsService(), renderer);

  beforeEach(() => {
    send = jest.fn(async () => ({ provider: 'twilio' as const }));
    twilio = { id: 'twilio', channel: 'sms', configured: true, send, probe: async () => undefined };
    circuits = new ProviderCircuits(messaging, new MetricsService());
    activity = new ProviderActivityLog();
    templates = mkdtempSync(join(tmpdir(), 'otp-templates-'));
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    rmSync(templates, { recursive: true, force: true });
    jest.restoreAllMocks();
  });

  it('hands providers the message rendered for their channel', async () => {
    await senderWith(new MessageRenderer({ webOtpDomain: undefined })).send(message());

    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0]![0]).toMatchObject({ language: 'en', body: expect.stringContaining('493027 is your login code') });
  });

  it('fails a message whose template is broken without asking a provider or counting against its circuit', async () => {
    // A language folder whose SMS template is missing: every send of the message fails to render.
    mkdirSync(join(templates, 'en'));
    writeFileSync(join(templates, 'en', 'purposes.json'), JSON.stringify({ verify: { name: 'verification', action: 'verify' } }));
    const sender = senderWith(new MessageRenderer({ webOtpDomain: undefined }, templates));

    for (let attempt = 0; attempt <= messaging.circuit.failureThreshold; attempt += 1) {
      await expect(sender.send(message())).rejects.toBeInstanceOf(MessageRenderingError);
    }

    expect(send).not.toHaveBeenCalled();
    expect(circuits.state('twilio')).toBe('closed');
    expect(activity.get('twilio')).toMatchObject({ failed: 0, lastError: null });
    expect(sender.canSend('sms')).toBe(true);
  });
});
