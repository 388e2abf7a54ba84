/**
 * Vendors whose receipts the service follows, and the providers each one's message ids belong to.
 * SNS text messages report to CloudWatch only, SMTP has no receipts, and Twilio Verify's codes are its own.
 */
export const RECEIPT_VENDORS = { twilio: ['twilio', 'twilio-whatsapp'], sendgrid: ['sendgrid'], ses: ['ses'] } as const;
export type ReceiptVendor = keyof typeof RECEIPT_VENDORS;

export function receiptVendorOf(provider: string): ReceiptVendor | undefined {
  return (Object.keys(RECEIPT_VENDORS) as ReceiptVendor[]).find((vendor) =>
    (RECEIPT_VENDORS[vendor] as readonly string[]).includes(provider),
  );
}

/** Where vendors post receipts: bodies there are taken as sent (a form, text/plain, JSON), to verify their signatures. */
export const RECEIPT_ROUTES_PREFIX = '/v1/webhooks';
