#!/usr/bin/env python3
# No-op per-message handler for bench/command-handlers.ts: reads the request, prints nothing, exits 0.
import sys

sys.stdin.read()
