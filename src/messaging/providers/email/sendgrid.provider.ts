import { Inject, Injectable } from '@nestjs/common';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import { type MessageProvider, ProviderError, type RenderedMessage, type SendResult } from '../../message-provider.js';
import { errorMessage, isNetworkError } from '../provider-support.js';

interface SendgridErrorBody {
  errors?: { message?: string; field?: string | null }[];
}

/** Email through SendGrid's v3 Mail Send API, with plain fetch: one POST does not need an SDK. */
@Injectable()
export class SendgridProvider implements MessageProvider<'email'> {
  readonly id = 'sendgrid' as const;
  readonly channel = 'email' as const;
  readonly configured = true;

  constructor(@Inject(messagingConfig.KEY) private readonly config: MessagingConfig) {}

  async send(message: RenderedMessage<'email'>): Promise<SendResult> {
    const { subject, html, text } = message.body;
    const body = {
      personalizations: [{ to: [{ email: message.to }] }],
      from: parseSender(this.config.sendgrid.from!),
      subject,
      // SendGrid requires text/plain before text/html.
      content: [
        { type: 'text/plain', value: text },
        { type: 'text/html', value: html },
      ],
    };
    const response = await this.request('POST', '/v3/mail/send', body);
    if (response.status !== 202) throw await classifySendgridResponse(response);
    return { provider: this.id, providerMessageId: response.headers.get('x-message-id') ?? undefined };
  }

  /** Reads the key's scopes: costs nothing, and fails exactly when the key is refused. */
  async probe(): Promise<void> {
    const response = await this.request('GET', '/v3/scopes');
    if (!response.ok) throw await classifySendgridResponse(response);
    await response.body?.cancel();
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(`${this.config.sendgrid.apiBaseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.config.sendgrid.apiKey}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.config.timeouts.requestMs),
      });
    } catch (error) {
      const why = isNetworkError(error) ? 'unreachable' : 'request failed';
      throw new ProviderError(this.id, 'outage', `SendGrid ${why}: ${errorMessage((error as Error).cause ?? error)}`);
    }
  }
}

/** `Name <addr@example.com>` or `addr@example.com`, as SendGrid's `from` object. */
export function parseSender(sender: string): { email: string; name?: string } {
  const match = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(sender);
  if (!match) return { email: sender.trim() };
  const name = match[1]!.replace(/^"(.*)"$/, '$1');
  return name ? { email: match[2]!, name } : { email: match[2]! };
}

export async function classifySendgridResponse(response: Response): Promise<ProviderError> {
  const body = (await response.json().catch(() => ({}))) as SendgridErrorBody;
  const errors = Array.isArray(body.errors) ? body.errors : [];
  const detail =
    errors
      .map((e) => e.message)
      .filter(Boolean)
      .join('; ') || response.statusText;
  const message = `SendGrid ${response.status}: ${detail}`;
  const { status } = response;
  if (status === 401 || status === 403) return new ProviderError('sendgrid', 'auth', message, status);
  const aboutRecipient = errors.some((e) => typeof e.field === 'string' && /^personalizations\.\d+\.(to|cc|bcc)/.test(e.field));
  if (status === 400 && aboutRecipient) return new ProviderError('sendgrid', 'permanent', message, status);
  // 429, 5xx, and refusals we cannot pin on the destination: the next provider may well deliver.
  return new ProviderError('sendgrid', 'outage', message, status);
}
