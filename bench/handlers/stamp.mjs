// Bench handler for bench/flow-control.ts: no work, returns when it ran, so the output list holds the timeline.
export default function stamp(message) {
  return { at: Date.now(), key: message.body?.key };
}
