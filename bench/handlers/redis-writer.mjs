// Handlers for bench/batch-handlers.ts: each writes every message's body to the Redis list
// BENCH_SINK_KEY on its own connection (BENCH_REDIS_URL). `one` is a per-message handler (one RPUSH per
// message); `bulk` is a batch handler (handler.batch: one RPUSH of N values per batch).
import { Redis } from 'ioredis';

let client;
const redis = () => (client ??= new Redis(process.env.BENCH_REDIS_URL));

export async function one(message) {
  await redis().rpush(process.env.BENCH_SINK_KEY, message.raw);
}

export async function bulk(messages) {
  await redis().rpush(process.env.BENCH_SINK_KEY, ...messages.map((m) => m.raw));
  return messages.map(() => undefined);
}

/** Closes the connection (the bench calls it when done). */
export async function close() {
  await client?.quit();
  client = undefined;
}
