// A paced producer in its own process, so it does not share the worker's event loop.
// argv: URL KIND KEY RATE SECONDS; prints the number of messages sent.
import { Redis } from 'ioredis';

const [url, kind, key, rateArg, secondsArg] = process.argv.slice(2) as [string, string, string, string, string];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const client = new Redis(url);
const pad = 'x'.repeat(64);
// 1 ms ticks: bursts of rate/1000 messages, close to a steady stream (5 ms ticks added ~0.5 ms to every P50).
const tickMs = 1;
const start = performance.now();
let sent = 0;
let id = 0;
while (performance.now() - start < seconds * 1000) {
  const due = Math.floor(((performance.now() - start) / 1000) * rate);
  const bodies: string[] = [];
  while (sent + bodies.length < due) bodies.push(JSON.stringify({ id: ++id, t: performance.timeOrigin + performance.now(), pad }));
  if (bodies.length > 0) {
    if (kind === 'stream') {
      const pipe = client.pipeline();
      for (const body of bodies) pipe.xadd(key, '*', 'body', body);
      await pipe.exec();
    } else if (kind === 'channel') {
      const pipe = client.pipeline();
      for (const body of bodies) pipe.publish(key, body);
      await pipe.exec();
    } else {
      // One LPUSH per message keeps each message's timestamp honest.
      const pipe = client.pipeline();
      for (const body of bodies) pipe.lpush(key, body);
      await pipe.exec();
    }
    sent += bodies.length;
  }
  await new Promise((r) => setTimeout(r, tickMs));
}
client.disconnect();
process.stdout.write(`${sent}\n`);
