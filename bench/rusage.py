#!/usr/bin/env python3
"""Runs a command and writes the CPU time and peak RSS of its process tree as JSON.

RUSAGE_CHILDREN covers every descendant that was waited for (node, bash, each docker /
docker compose / curl call); containers are not descendants (containerd starts them), so
they are left out, as they should be. ru_maxrss is the largest single process.
Usage: rusage.py OUT.json COMMAND [ARG...]
"""
import json
import resource
import subprocess
import sys
import time

out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
code = subprocess.call(cmd)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    json.dump({"code": code, "wallS": wall, "userS": ru.ru_utime, "sysS": ru.ru_stime, "maxRssKb": ru.ru_maxrss}, f)
sys.exit(code if code >= 0 else 128 - code)
