import type { DeliveryJob } from './delivery-job.js';
import { PayloadSealer } from './sealed-payload.js';

const job: DeliveryJob = {
  key: 'ver_1:1',
  verificationId: 'ver_1',
  sendNumber: 1,
  channel: 'email',
  issuedAt: 1_800_000_000_000,
  expiresAt: 1_800_000_600_000,
  content: { to: 'jane@example.com', code: '493027', purpose: 'login', locale: 'en' },
};

describe('PayloadSealer', () => {
  const sealer = new PayloadSealer({ secret: 's'.repeat(40) });

  it('stores neither the destination nor the code in the clear, and opens them again for the worker', () => {
    const sealed = sealer.seal(job);

    expect(JSON.stringify(sealed)).not.toContain('jane@example.com');
    expect(JSON.stringify(sealed)).not.toContain('493027');
    const { open, ...header } = sealer.unseal(sealed);
    const { content: _content, ...queued } = job;
    expect(header).toEqual(queued);
    expect(open()).toEqual(job.content);
  });

  it('refuses to open content moved to another job, or sealed under another OTP_SECRET', () => {
    const sealed = sealer.seal(job);

    expect(() => sealer.unseal({ ...sealed, key: 'ver_2:1' }).open()).toThrow();
    expect(() => new PayloadSealer({ secret: 't'.repeat(40) }).unseal(sealed).open()).toThrow();
  });
});
