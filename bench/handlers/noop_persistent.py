#!/usr/bin/env python3
# No-op persistent handler for bench/command-handlers.ts: the reference protocol loop, no work, no result.
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the reference handler
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pipelines", "handlers"))
from persistent_handler import serve  # noqa: E402

serve(lambda message: None)
