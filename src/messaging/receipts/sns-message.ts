import { createVerify } from 'node:crypto';

/** An SNS HTTP(S) delivery, as posted (the JSON of a text/plain body). */
export interface SnsMessage {
  Type: 'SubscriptionConfirmation' | 'Notification' | 'UnsubscribeConfirmation';
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: '1' | '2';
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  SubscribeURL?: string;
  Token?: string;
}

/** The fields each type signs, in AWS's order: https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html */
const SIGNED_FIELDS: Record<SnsMessage['Type'], readonly (keyof SnsMessage)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** Parses a posted body into an SNS message, or undefined when it is not one. */
export function parseSnsMessage(body: unknown): SnsMessage | undefined {
  if (typeof body !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const message = parsed as Record<string, unknown>;
  if (typeof message.Type !== 'string' || !(message.Type in SIGNED_FIELDS)) return undefined;
  for (const field of SIGNED_FIELDS[message.Type as SnsMessage['Type']]) {
    if (field !== 'Subject' && typeof message[field] !== 'string') return undefined;
  }
  if (message.SignatureVersion !== '1' && message.SignatureVersion !== '2') return undefined;
  if (typeof message.Signature !== 'string' || typeof message.SigningCertURL !== 'string') return undefined;
  return message as unknown as SnsMessage;
}

/** The string AWS signs: each present field's name and value, one per line. */
export function stringToSign(message: SnsMessage): string {
  return SIGNED_FIELDS[message.Type]
    .filter((field) => typeof message[field] === 'string')
    .map((field) => `${field}\n${message[field]}\n`)
    .join('');
}

export function verifySnsSignature(message: SnsMessage, certificatePem: string): boolean {
  const verifier = createVerify(message.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
  verifier.update(stringToSign(message), 'utf8');
  try {
    return verifier.verify(certificatePem, message.Signature, 'base64');
  } catch {
    return false;
  }
}

/**
 * Whether a URL an SNS message names (its certificate, its SubscribeURL) is on an allowed origin:
 * `https://sns.*.amazonaws.com` by default, `*` standing for one DNS label. Anything else is never
 * fetched, so a forged message cannot make the service request an address of the attacker's choice.
 */
export function isAllowedSnsUrl(url: string, origins: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  const origin = `${parsed.protocol}//${parsed.host}`;
  return origins.some((pattern) => originPattern(pattern).test(origin));
}

function originPattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '[a-z0-9-]+');
  return new RegExp(`^${escaped}$`, 'i');
}
