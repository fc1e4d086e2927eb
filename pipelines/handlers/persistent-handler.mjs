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
//   With handler.batch, a request line is {"id", "batch": [request, ...]} and its reply
//           {"id", "results": [{"ok": true, "result"} | {"ok": false, "error", "retryable"}, ...]},
//           one element per request, in order. serve(handle) answers it by calling handle per element;
//           serve(handle, { batch: handleBatch }) calls handleBatch(requests) once, which returns one
//           result per request (an Error element fails that message alone; throwing fails them all).
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

/** A failed message's reply fields: its error text, and whether Pythia may retry it. */
function failure(error) {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, error: text, retryable: error?.retryable !== false };
}

/** One element of a batch reply, from a result or an Error. */
function element(result) {
  if (result instanceof Error) return failure(result);
  return result === undefined ? { ok: true } : { ok: true, result };
}

/** The results of a batch request: handleBatch's answer, or handler per element. */
async function batchResults(requests, handler, handleBatch) {
  if (handleBatch) {
    const results = await handleBatch(requests);
    if (!Array.isArray(results) || results.length !== requests.length)
      throw new Error(`the batch handler must return one result per request (${requests.length})`);
    return results.map(element);
  }
  return Promise.all(
    requests.map((request) =>
      Promise.resolve()
        .then(() => handler(request))
        .then(element, failure),
    ),
  );
}

export function serve(handler = handle, { batch: handleBatch } = {}) {
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
      const unserialisable = (e) => ({ ok: false, error: `result is not JSON-serialisable: ${e.message}`, retryable: false });
      // In a batch reply only the elements that cannot be serialised fail.
      const encodable = (item) => {
        try {
          JSON.stringify(item);
          return item;
        } catch (e) {
          return unserialisable(e);
        }
      };
      line = JSON.stringify(
        Array.isArray(value.results) ? { id: value.id, results: value.results.map(encodable) } : { id: value.id, ...unserialisable(error) },
      );
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
      if (Array.isArray(request.batch)) reply({ id, results: await batchResults(request.batch, handler, handleBatch) });
      else reply({ id, ...element(await handler(request)) });
    } catch (error) {
      reply({ id, ...failure(error) });
    }
  });
  // When stdin closes, Node exits by itself once the requests still running have replied.
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) serve();
