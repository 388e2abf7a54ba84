import type { MessagingConfig, ProviderId } from '../../../config/configuration.types.js';
import { ProviderError } from '../../message-provider.js';
import { errorMessage, isNetworkError } from '../provider-support.js';

/** What every AWS client of ours shares: one attempt (failover is the chain's job) and short timeouts. */
export function awsClientConfig(config: MessagingConfig, endpoint: string | undefined) {
  const { region, accessKeyId, secretAccessKey } = config.aws;
  return {
    region,
    endpoint,
    // Unset = the SDK's default chain (instance role, web identity, shared files).
    credentials: accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined,
    maxAttempts: 1,
    // Without throwOnRequestTimeout the SDK only logs a warning and keeps waiting on a hung endpoint.
    requestHandler: {
      connectionTimeout: config.timeouts.connectMs,
      requestTimeout: config.timeouts.requestMs,
      throwOnRequestTimeout: true,
    },
  };
}

/** Error codes that mean our credentials or account are refused, in every AWS service. */
const AUTH_CODES = new Set([
  'AccessDenied',
  'AuthorizationError',
  'ExpiredToken',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'InvalidSecurity',
  'MissingAuthenticationToken',
  'OptInRequired',
  'SignatureDoesNotMatch',
  'UnrecognizedClient',
  'CredentialsProviderError',
]);

export interface AwsErrorCodes {
  /** The destination can never receive this message. */
  permanent: ReadonlySet<string>;
  /** This service's own ways of saying our account or sender cannot send. */
  auth: ReadonlySet<string>;
}

export function classifyAwsError(provider: ProviderId, service: string, codes: AwsErrorCodes, error: unknown): ProviderError {
  const fields = (error ?? {}) as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  const name = typeof fields.name === 'string' ? fields.name.replace(/Exception$/, '') : undefined;
  const status = fields.$metadata?.httpStatusCode;
  if (name !== undefined && status !== undefined) {
    const message = `${service} ${status} ${name}: ${errorMessage(error)}`;
    if (codes.permanent.has(name)) return new ProviderError(provider, 'permanent', message, name);
    if (AUTH_CODES.has(name) || codes.auth.has(name) || status === 401 || status === 403) {
      return new ProviderError(provider, 'auth', message, name);
    }
    // Throttling, 5xx, and refusals we cannot pin on the destination: the next provider may well deliver.
    return new ProviderError(provider, 'outage', message, name);
  }
  if (name !== undefined && AUTH_CODES.has(name)) {
    return new ProviderError(provider, 'auth', `${service}: no usable credentials (${errorMessage(error)})`, name);
  }
  const message = isNetworkError(error) ? `${service} unreachable: ${errorMessage(error)}` : `${service}: ${errorMessage(error)}`;
  return new ProviderError(provider, 'outage', message);
}
