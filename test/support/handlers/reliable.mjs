// Test handler for the reliability suite: returns {id} so the pipeline's output records what was processed.
// Body options: sleep (ms), fail: "always" (throws every attempt), hang: true (never settles and ignores
// context.signal, like a stuck handler). RELIABLE_IGNORE_SLEEP=1 skips sleeps (a fast drain worker).
const ignoreSleep = process.env.RELIABLE_IGNORE_SLEEP === '1';

export default async function reliable(message) {
  const body = message.body ?? {};
  if (body.hang) return new Promise(() => {});
  if (body.sleep && !ignoreSleep) await new Promise((resolve) => setTimeout(resolve, body.sleep));
  if (body.fail === 'always') throw new Error(`failing ${body.id}`);
  return { id: body.id };
}
