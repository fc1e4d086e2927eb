#!/usr/bin/env python3
"""Reference per-message command handler for Pythia (handler.mode: per-message, the default). Stdlib only.

Pythia starts this program once per message (docs/command-handlers.md):
  * stdin: one JSON object {"id", "body", "headers", "fields", "attempt"}; body is a JSON value
    (message.format: json), a string (text) or a base64 string (binary).
  * stdout: the result, as JSON; print nothing for no result. (Non-JSON text is passed on as a string.)
  * stderr: logs; Pythia logs each line with the message id.
  * exit 0: success. Any other code: retried, unless listed in handler.permanent_exit_codes
    (the example pipeline lists 3), which sends the message straight to the dead letter.
"""
import json
import sys

PERMANENT = 3  # keep in sync with handler.permanent_exit_codes


def handle(message):
    """Replace this. Return a JSON-serialisable result, or None for no output."""
    body = message["body"]
    if isinstance(body, dict) and body.get("invalid"):
        raise ValueError("the order is invalid")  # a permanent problem: retrying cannot fix it
    return {"id": message["id"], "attempt": message["attempt"], "body": body, "handled_by": "python-per-message"}


def main():
    message = json.load(sys.stdin)
    try:
        result = handle(message)
    except ValueError as error:
        print(f"permanent failure: {error}", file=sys.stderr)
        return PERMANENT
    if result is not None:
        json.dump(result, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
