#!/usr/bin/env node
// Reference persistent command handler for Pythia (handler.mode: persistent), in plain Node.js.
//
// Copy this file and replace handle(), or import serve() from it:
//   import { serve, PermanentError } from './persistent-handler.mjs';
//   serve(async (message) => ({ ... }));
//
// The protocol (docs/command-handlers.md):
//   stdin:  one request per line {"id", "body", "headers", "fields", "attempt"}; body is a JSON value
//           (message.format: json), a string (text) or a base64 string (binary).
//   stdout: one reply per line, echoing the id, in any order:
//           {"id", "ok": true, "result"}   or   {"id", "ok": false, "error", "retryable"}
//   stderr: logs. Exit when stdin closes.
// Requests are handled concurrently: many may be in flight at once (up to the pipeline's concurrency).
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

/** Throw it (or any error with `retryable = false`) to send the message straight to the dead letter. */
export class PermanentError extends Error {
  retryable = false;
}

/** Replace this. Return a JSON-serialisable result, or undefined for no output. */
export async function handle(message) {
  return { id: message.id, attempt: message.attempt, body: message.body, handled_by: 'node' };
}

export function serve(handler = handle) {
  const out = process.stdout;
  // stdout carries replies only: a stray console.log in handler code goes to stderr.
  console.log = console.error;
  console.info = console.error;
  let batch = [];
  const flush = () => {
    const data = batch.join('');
    batch = [];
    out.write(data);
  };
  const reply = (value) => {
    let line;
    try {
      line = JSON.stringify(value);
    } catch (error) {
      line = JSON.stringify({ id: value.id, ok: false, error: `result is not JSON-serialisable: ${error.message}`, retryable: false });
    }
    // Replies finished in the same turn of the event loop go out in one write.
    if (batch.push(line + '\n') === 1) setImmediate(flush);
  };
  const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
  input.on('line', async (line) => {
    if (line.trim() === '') return;
    let request;
    try {
      request = JSON.parse(line);
    } catch (error) {
      console.error(`persistent-handler: unreadable request ignored: ${error.message}`);
      return;
    }
    const { id } = request;
    try {
      const result = await handler(request);
      reply(result === undefined ? { id, ok: true } : { id, ok: true, result });
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      reply({ id, ok: false, error: message, retryable: error?.retryable !== false });
    }
  });
  // When stdin closes, Node exits by itself once the requests still running have replied.
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) serve();
