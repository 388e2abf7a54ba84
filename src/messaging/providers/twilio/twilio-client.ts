import twilio from 'twilio';
import type { MessagingConfig, ProviderId } from '../../../config/configuration.types.js';
import { ProviderError } from '../../message-provider.js';
import { errorMessage, isNetworkError } from '../provider-support.js';

type RequestOptions<TData> = Parameters<twilio.RequestClient['request']>[0] & { data?: TData };

/**
 * Sends every Twilio API call (api.twilio.com, verify.twilio.com, …) to `baseUrl` instead, keeping
 * the path and query: the SDK picks the host per product, and TWILIO_API_BASE_URL replaces them all.
 */
export class RedirectingRequestClient extends twilio.RequestClient {
  constructor(
    private readonly baseUrl: string | undefined,
    options: ConstructorParameters<typeof twilio.RequestClient>[0],
  ) {
    super(options);
  }

  override request<TData>(options: RequestOptions<TData>) {
    if (this.baseUrl === undefined) return super.request<TData>(options);
    const original = new URL(options.uri);
    return super.request<TData>({ ...options, uri: `${this.baseUrl}${original.pathname}${original.search}` });
  }
}

/** A client that never retries (failover is the chain's job) and gives up well within a code's lifetime. */
export function createTwilioClient(config: MessagingConfig): twilio.Twilio {
  const { accountSid, authToken, apiBaseUrl } = config.twilio;
  const httpClient = new RedirectingRequestClient(apiBaseUrl, {
    timeout: config.timeouts.requestMs,
    autoRetry: false,
    keepAlive: false,
  });
  return twilio(accountSid, authToken, { httpClient, autoRetry: false, lazyLoading: true });
}

/** Where Twilio posts each message's status (`StatusCallback`): only when PUBLIC_BASE_URL says where the service is reached. */
export const TWILIO_STATUS_PATH = '/v1/webhooks/twilio/status';

export function statusCallbackOf(config: MessagingConfig): { statusCallback?: string } {
  const base = config.receipts.publicBaseUrl;
  return base === undefined ? {} : { statusCallback: `${base}${TWILIO_STATUS_PATH}` };
}

/** Costs nothing and sends nothing: proves the credentials and the way to Twilio. */
export async function probeTwilio(provider: ProviderId, client: twilio.Twilio, accountSid: string): Promise<void> {
  try {
    await client.api.v2010.accounts(accountSid).fetch();
  } catch (error) {
    throw classifyTwilioError(provider, error);
  }
}

/** The destination can never receive this message (Twilio error codes). */
const PERMANENT_CODES = new Set([
  21211, // invalid To number
  21214, // To number cannot be reached
  21217, // To number is not a valid phone number
  21265, // To is a short code
  21408, // no permission to send to this region
  21604, // To is required
  21608, // unverified number on a trial account
  21610, // recipient replied STOP
  21612, // unreachable To (carrier, or not a mobile number)
  21614, // not a mobile number
  21635, // To is a landline
  60200, // Verify: invalid parameter (the number)
  60205, // Verify: SMS is not supported by the landline
  63024, // WhatsApp: invalid message recipient
]);

/** Our account or sender is refused: nothing will go through until the configuration changes. */
const ACCOUNT_CODES = new Set([
  20003, // authentication failed
  20404, // the account or Verify service does not exist
  20008, // test credentials cannot do this
  21212, // invalid From number
  21606, // From cannot send SMS
  21659, // From is not a Twilio number
  21660, // From does not belong to the account
  63007, // WhatsApp sender not found
]);

export function classifyTwilioError(provider: ProviderId, error: unknown): ProviderError {
  const exception = error as { status?: unknown; code?: unknown; message?: unknown };
  const isRestException = error instanceof twilio.RestException || typeof exception.status === 'number';
  if (isRestException && typeof exception.status === 'number') {
    const status = exception.status;
    const code = typeof exception.code === 'number' ? exception.code : undefined;
    const message = `Twilio ${status}${code !== undefined ? ` (${code})` : ''}: ${errorMessage(error)}`;
    if (code !== undefined && PERMANENT_CODES.has(code)) return new ProviderError(provider, 'permanent', message, code);
    if (status === 401 || status === 403 || (code !== undefined && ACCOUNT_CODES.has(code))) {
      return new ProviderError(provider, 'auth', message, code ?? status);
    }
    // 429, 5xx, and refusals we cannot pin on the destination: the next provider may well deliver.
    return new ProviderError(provider, 'outage', message, code ?? status);
  }
  const message = isNetworkError(error) ? `Twilio unreachable: ${errorMessage(error)}` : `Twilio: ${errorMessage(error)}`;
  return new ProviderError(provider, 'outage', message);
}
