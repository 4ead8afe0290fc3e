#!/usr/bin/env python3
"""A little steady Pusher traffic against 127.0.0.1:PORT for SECONDS, so that every panel of
docs/deploy/grafana-dashboard.json has something to show.

    traffic.py PORT SECONDS [CLIENTS]

Used by tests/prometheus/dashboard.sh. Standard library only. It keeps CLIENTS WebSocket
clients subscribed to three channels (reading everything they are sent, pinging every 10 s so
the server's activity timeout never closes them), publishes over the HTTP API every 0.2 s
(signed like a Pusher SDK, default app `app-id` / `app-key` / `app-secret`), opens and closes
one extra client every second (new connections and disconnections), and tries an unknown app
key every two seconds (a rejected connection, reason `unknown_app`). Prints "ready N" once the
clients are subscribed, and exits non-zero if anything is answered unexpectedly.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time

APP_ID, KEY, SECRET = "app-id", "app-key", "app-secret"
CHANNELS = ["dash-0", "dash-1", "dash-2"]


def handshake(port, key):
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
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("server closed during the handshake")
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"handshake refused: {buf[:80]!r}")
    return s, buf.split(b"\r\n\r\n", 1)[1]


def send_text(s, text):
    """One masked text frame (clients must mask, RFC 6455 §5.3)."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    else:
        head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def send_json(s, event, data):
    send_text(s, json.dumps({"event": event, "data": data}))


def read_until(s, buf, needle):
    s.settimeout(5)
    while needle not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return buf, False
        buf += chunk
    return buf, True


def client(port, channel):
    s, buf = handshake(port, KEY)
    buf, ok = read_until(s, buf, b"connection_established")
    if not ok:
        raise SystemExit("no connection_established")
    send_json(s, "pusher:subscribe", {"channel": channel})
    buf, ok = read_until(s, buf, b"subscription_succeeded")
    if not ok:
        raise SystemExit(f"no subscription_succeeded for {channel}")
    s.setblocking(False)
    return s


def drain(s):
    try:
        while s.recv(65536):
            pass
    except BlockingIOError:
        pass


def publish(port, channel, n):
    body = json.dumps({"name": "tick", "channel": channel, "data": json.dumps({"n": n})})
    path = f"/apps/{APP_ID}/events"
    params = {
        "auth_key": KEY,
        "auth_timestamp": str(int(time.time())),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body.encode()).hexdigest(),
    }
    query = "&".join(f"{k}={params[k]}" for k in sorted(params))
    sig = hmac.new(SECRET.encode(), f"POST\n{path}\n{query}".encode(), hashlib.sha256)
    request = (
        f"POST {path}?{query}&auth_signature={sig.hexdigest()} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request.encode())
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"publish refused: {answer[:200]!r}")


def rejected(port):
    """An unknown app key: pusher:error 4001 then a close (counted as `unknown_app`)."""
    s, buf = handshake(port, "no-such-key")
    buf, ok = read_until(s, buf, b"4001")
    s.close()
    if not ok:
        raise SystemExit("an unknown key was not refused with 4001")


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    clients = [client(port, CHANNELS[i % len(CHANNELS)]) for i in range(n)]
    print(f"ready {len(clients)}", flush=True)
    start = time.monotonic()
    tick = 0
    while time.monotonic() - start < seconds:
        publish(port, CHANNELS[tick % len(CHANNELS)], tick)
        if tick % 5 == 0:
            client(port, CHANNELS[tick % len(CHANNELS)]).close()
        if tick % 10 == 0:
            rejected(port)
        if tick % 50 == 0:
            for c in clients:
                send_json(c, "pusher:ping", {})
        for c in clients:
            drain(c)
        tick += 1
        time.sleep(0.2)
    for c in clients:
        c.close()
    print(f"done {tick} publishes", flush=True)


if __name__ == "__main__":
    main()
