#!/usr/bin/env python3
"""Opens N Pusher WebSocket connections to 127.0.0.1:PORT and holds them for SECONDS.

Used by tests/prometheus/check.sh to give the metrics something to count. Standard library
only: a hand-written WebSocket handshake; answers nothing (the hold is shorter than the
server's activity timeout). Prints "ready N" once every connection is established.
"""
import base64
import os
import socket
import sys
import time


def connect(port, key):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    ws_key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /app/{key}?protocol=7&client=ci&version=1 HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {ws_key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    buf = b""
    while b"connection_established" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("server closed during the handshake")
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"handshake refused: {buf[:80]!r}")
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
