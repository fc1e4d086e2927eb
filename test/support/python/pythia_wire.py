"""Python Pythia's list wire format, produced and consumed by real Python (json module, socket).

Stands in for Python Pythia's RedisListProducer / RedisListConsumer in the compatibility tests: the
bytes come from Python's own json.dumps(..., ensure_ascii=False), pushed with RPUSH (LPUSH for
priority=True), and popped from the left as its consumer does. Talks RESP over a plain socket, so
it needs no package; `--redis-py` uses the `redis` package instead when it is importable.

  python3 pythia_wire.py PORT produce KEY [--redis-py] < specs.jsonl
      one spec per line: {"body": ..., "body_hex": "..." (bytes), "headers": {...},
      "message_id": "...", "priority": true, "message_object": true, "structured": true}
  python3 pythia_wire.py PORT consume KEY COUNT
      pops COUNT items from the left (waiting up to 10 s each) and prints, per item, one JSON line
      {"body", "headers", "message_id"} as Python Pythia's list consumer would see the message.
"""

import json
import socket
import sys


def envelope(spec):
    """The JSON document Python Pythia's list producer writes for one send()."""
    if "body_hex" in spec:
        raw = bytes.fromhex(spec["body_hex"])
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            body = raw.hex()
    else:
        body = spec["body"]
    headers = spec.get("headers") or {}
    message_id = spec.get("message_id")
    if spec.get("structured"):
        # A dict that already has "body" is sent as it is (only headers/message_id merged in when given).
        data = dict(body)
        if spec.get("headers"):
            data["headers"] = {**data.get("headers", {}), **headers}
        if message_id:
            data["message_id"] = message_id
    elif spec.get("message_object"):
        data = {"body": body, "headers": headers, "message_id": message_id, "timestamp": "2025-01-02T03:04:05.678901"}
    else:
        data = {"body": body, "headers": headers, "message_id": message_id}
    return json.dumps(data, ensure_ascii=False, default=str)


class Resp:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode("utf-8")
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if kind in (b"*", b"_"):
            n = int(rest or b"-1")
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)


def consumed(data):
    """What Python Pythia's list consumer makes of one item: body, headers, message_id."""
    text = data.decode("utf-8")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return {"body": text, "headers": {}, "message_id": None}
    if isinstance(parsed, dict) and "body" in parsed:
        return {"body": parsed.get("body"), "headers": parsed.get("headers", {}), "message_id": parsed.get("message_id")}
    return {"body": parsed, "headers": {}, "message_id": None}


def main():
    port, verb, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if verb == "produce":
        specs = [json.loads(line) for line in sys.stdin if line.strip()]
        if "--redis-py" in sys.argv:
            import redis  # only this mode needs the package

            client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
            for spec in specs:
                (client.lpush if spec.get("priority") else client.rpush)(key, envelope(spec))
        else:
            client = Resp(port)
            for spec in specs:
                client.call("LPUSH" if spec.get("priority") else "RPUSH", key, envelope(spec).encode("utf-8"))
        print(len(specs))
    elif verb == "consume":
        client = Resp(port)
        for _ in range(int(sys.argv[4])):
            popped = client.call("BLPOP", key, 10)
            if popped is None:
                break
            print(json.dumps(consumed(popped[1]), ensure_ascii=False))
    elif verb == "envelope":
        for line in sys.stdin:
            if line.strip():
                sys.stdout.write(envelope(json.loads(line)) + "\n")
    else:
        raise SystemExit("unknown verb " + verb)


if __name__ == "__main__":
    main()
