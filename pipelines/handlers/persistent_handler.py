#!/usr/bin/env python3
"""Reference persistent command handler for Pythia (handler.mode: persistent). Python 3, stdlib only.

Copy this file and replace handle(), or import serve() from it:

    from persistent_handler import serve, PermanentError
    def handle(message): ...
    serve(handle)

The protocol (docs/command-handlers.md):
  * Pythia writes one request per line on stdin:
        {"id": "...", "body": ..., "headers": {...}, "fields": {...}, "attempt": 1}
    body is a JSON value (message.format: json), a string (text) or a base64 string (binary).
  * Reply with one line per request on stdout, echoing the id, in any order:
        {"id": "...", "ok": true, "result": ...}           success; "result" optional (absent: no output)
        {"id": "...", "ok": false, "error": "...", "retryable": true}   failure; false: dead letter now
  * stdout carries replies only: logs go to stderr (Pythia logs each stderr line).
  * Exit when stdin closes (end of input): that is how Pythia asks a handler to stop.
  * With handler.batch, a request line is {"id": "...", "batch": [request, ...]}; reply
        {"id": "...", "results": [{"ok": true, "result": ...} | {"ok": false, "error": "...", "retryable": true}, ...]}
    with one element per request, in order. serve(handle) answers it by calling handle per element;
    serve(handle, batch_handler=handle_batch) calls handle_batch(requests) once, which returns a list
    with one result per request (an exception instance as an element fails that message alone;
    raising fails the whole batch).

This loop handles requests one at a time; for parallelism, raise handler.instances.
"""
import json
import os
import sys
import time


class PermanentError(Exception):
    """Raise it from handle() to send the message straight to the dead letter (no retry)."""


def handle(message):
    """Replace this. `message` is the request dict; return a JSON-serialisable result, or None for no output."""
    return {"id": message["id"], "attempt": message["attempt"], "body": message["body"], "handled_by": "python"}


def _failure(error):
    if isinstance(error, PermanentError):
        return {"ok": False, "error": str(error) or "PermanentError", "retryable": False}
    return {"ok": False, "error": f"{type(error).__name__}: {error}", "retryable": True}  # retried by Pythia


def _element(result):
    if isinstance(result, Exception):
        return _failure(result)
    return {"ok": True} if result is None else {"ok": True, "result": result}


def _batch_results(handler, batch_handler, requests):
    if batch_handler is None:
        results = []
        for request in requests:
            try:
                results.append(_element(handler(request)))
            except Exception as error:
                results.append(_failure(error))
        return results
    results = batch_handler(requests)
    if not isinstance(results, list) or len(results) != len(requests):
        raise ValueError(f"the batch handler must return a list with one result per request ({len(requests)})")
    return [_element(result) for result in results]


def _reply(request_id, handler, request, batch_handler=None):
    try:
        if isinstance(request.get("batch"), list):
            return {"id": request_id, "results": _batch_results(handler, batch_handler, request["batch"])}
        return {"id": request_id, **_element(handler(request))}
    except Exception as error:
        return {"id": request_id, **_failure(error)}


def _encode(reply):
    try:
        return json.dumps(reply, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
    except (TypeError, ValueError) as error:
        if "results" in reply:  # only the elements that cannot be encoded fail
            return _encode({"id": reply["id"], "results": [_encodable(element) for element in reply["results"]]})
        failure = {"id": reply["id"], "ok": False, "error": f"result is not JSON-serialisable: {error}", "retryable": False}
        return json.dumps(failure).encode("utf-8") + b"\n"


def _encodable(element):
    try:
        json.dumps(element)
        return element
    except (TypeError, ValueError) as error:
        return {"ok": False, "error": f"result is not JSON-serialisable: {error}", "retryable": False}


def serve(handler=handle, batch_handler=None):
    """Reads requests until stdin closes and replies to each (batch requests: see the module docstring). Replies are batched into few writes, but
    never held back more than a few milliseconds."""
    out = sys.stdout.buffer
    # A stray print() in handler code would corrupt the protocol: send it to stderr instead.
    sys.stdout = sys.stderr
    pending = b""
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break  # stdin closed: Pythia is shutting down
        pending += chunk
        *lines, pending = pending.split(b"\n")
        replies = []
        last_flush = time.monotonic()
        for line in lines:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                request_id = request["id"]
            except (ValueError, KeyError, TypeError) as error:
                print(f"persistent_handler: unreadable request ignored: {error}", file=sys.stderr)
                continue
            replies.append(_encode(_reply(request_id, handler, request, batch_handler)))
            if time.monotonic() - last_flush > 0.005:
                out.write(b"".join(replies))
                out.flush()
                replies = []
                last_flush = time.monotonic()
        if replies:
            out.write(b"".join(replies))
            out.flush()


if __name__ == "__main__":
    serve()
