#!/usr/bin/env python3
"""Opens N Pusher WebSocket connections to 127.0.0.1:PORT and holds them for SECONDS.

Used by tests/prometheus/check.sh to give the metrics something to count. Standard library
only: the hand-written WebSocket handshake of traffic.py; answers nothing (the hold is shorter than the
server's activity timeout). Prints "ready N" once every connection is established.
"""
import sys
import time

# The handshake is traffic.py's (the same directory is on the path).
from traffic import handshake


def connect(port, key):
    s, buf = handshake(port, key)
    while b"connection_established" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("server closed before connection_established")
        buf += chunk
    return s


def main():
    port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    socks = [connect(port, "app-key") for _ in range(n)]
    print(f"ready {len(socks)}", flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
