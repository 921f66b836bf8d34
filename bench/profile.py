"""Profile one service endpoint: start the service (production command, one worker), drive one request
in a loop from this process, sample the worker with py-spy, and print where the worker's time goes.

    .venv/bin/python bench/profile.py static /v1/fba '{"model": {"id": "iMM904"}}' --seconds 8

Output: the share of samples per function (inclusive, then self), folded stacks in ``--raw``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import launch  # noqa: E402

PY_SPY = Path(sys.executable).parent / "py-spy"


def raw_post(host: str, port: int, path: str, body: bytes) -> bytes:
    """One POST over a fresh connection (a client that does not keep connections alive)."""
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        chunks = []
        while True:
            data = sock.recv(1 << 16)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def summarize(folded: str, top: int = 40) -> str:
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [re.sub(r" \(/\S*?(site-packages|lib/python3\.\d+)/", " (", f) for f in stack.split(";")]
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"samples: {total}", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f[:140]}" for f, n in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {100 * n / total:5.1f}%  {f[:140]}" for f, n in own.most_common(top // 2)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=("static", "dynamic"))
    parser.add_argument("path")
    parser.add_argument("body")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--raw", help="write py-spy's folded stacks here")
    args = parser.parse_args()
    os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    body = json.dumps(json.loads(args.body)).encode()
    proc, _ = launch.start(args.service)
    try:
        for _ in range(20):  # warm-up; also shows a bad request before profiling it
            answer = raw_post(proc.host, proc.port, args.path, body)
        status = answer.split(b" ", 2)[1]
        if status != b"200":
            raise SystemExit(f"{args.path} answered {answer[:400]!r}")
        worker = launch.engine_pids(proc)[0]
        out = args.raw or tempfile.mktemp(suffix=".folded")
        spy = subprocess.Popen([str(PY_SPY), "record", "-p", str(worker), "-o", out, "-f", "raw", "-r",
                                str(args.rate), "-d", str(args.seconds), "--nonblocking"],
                               stdout=subprocess.DEVNULL)
        count, ends = 0, time.monotonic() + args.seconds + 1
        while time.monotonic() < ends:
            raw_post(proc.host, proc.port, args.path, body)
            count += 1
        spy.wait(30)
        print(f"{count} requests in {args.seconds + 1:.0f} s")
        print(summarize(Path(out).read_text(), args.top))
    finally:
        proc.stop()


if __name__ == "__main__":
    main()
