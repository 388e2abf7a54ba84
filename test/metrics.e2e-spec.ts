import { call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { standaloneCode } from './support/codes.js';

/** GET /metrics is valid Prometheus text, and its counters move as the flows run. */
let app: TestApp;
beforeAll(async () => {
  app = await startApp({ OTP_RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(() => app.close());

/** `name{labels} value` → value, for one exact series. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

it('counts a send, a delivery and a check at 1 each, in valid exposition format', async () => {
  const since = app.logs.entries.length;
  const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'metrics@example.com' });
  expect(started.status).toBe(201);
  const code = await app.logs.nextCodeFor('metrics@example.com', since);
  expect((await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code })).status).toBe(200);

  let text = '';
  await eventually(async () => {
    const response = await fetch(`${app.url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    text = await response.text();
    expect(valueOf(text, 'otp_deliveries_total{channel="email",result="sent"}')).toBe(1);
  });
  expect(valueOf(text, 'otp_verifications_started_total{channel="email",kind="new",api_key="key1"}')).toBe(1);
  expect(valueOf(text, 'otp_verifications_approved_total{channel="email"}')).toBe(1);
  expect(valueOf(text, 'otp_checks_total{result="approved"}')).toBe(1);
  expect(valueOf(text, 'otp_messages_total{channel="email",provider="console",result="sent"}')).toBe(1);
  expect(valueOf(text, 'otp_delivery_latency_seconds_count{channel="email",provider="console"}')).toBe(1);
  expect(valueOf(text, 'otp_delivery_queue_jobs{state="active"}')).toBeGreaterThanOrEqual(0);
  // Embedded mode: this process is the one worker.
  expect(valueOf(text, 'otp_delivery_workers')).toBe(1);
  expect(text).toContain('process_resident_memory_bytes');
  // What the logger lost to a standard output nobody read: nothing here (test/logging.e2e-spec.ts makes it lose some).
  expect(valueOf(text, 'otp_log_lines_dropped_total')).toBe(0);
  expect(valueOf(text, 'otp_http_request_duration_seconds_count{method="POST",route="/v1/verifications",status="201"}')).toBe(1);
  expect(valueOf(text, 'otp_http_request_duration_seconds_count{method="POST",route="/v1/verifications/check",status="200"}')).toBe(1);

  // Every line is a comment (# HELP / # TYPE), blank, or `name{labels} number`.
  const sample =
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?(\d+(\.\d+)?(e[+-]?\d+)?|NaN|\+Inf|-Inf)( \d+)?$/;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    expect({ line, valid: sample.test(line) }).toEqual({ line, valid: true });
  }
  // No destination, id or code ever becomes a label.
  expect(text).not.toContain('metrics@example.com');
  expect(text).not.toContain(String(started.body.id));
  expect(text).not.toMatch(standaloneCode(code));
});
