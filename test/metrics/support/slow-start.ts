// A handler module that takes a while to load, so a pipeline stays "starting" long enough for a
// probe to see /readyz answer 503 before it turns 200.
await new Promise((r) => setTimeout(r, Number(process.env.SLOW_START_MS ?? 600)));

export default async function slow(message: { body: { ms?: number } }): Promise<void> {
  await new Promise((r) => setTimeout(r, message.body.ms ?? 300));
}
