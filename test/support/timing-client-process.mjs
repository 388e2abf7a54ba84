// A client in a process of its own, so that what the app does after answering (starting a delivery)
// cannot delay reading the answer, as it would on a shared event loop; a remote client sees the same.
import { performance } from 'node:perf_hooks';

process.on('message', async ({ id, url, body }) => {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  const ms = performance.now() - started;
  process.send({ id, status: response.status, body: text ? JSON.parse(text) : {}, ms });
});
process.on('disconnect', () => process.exit(0));
