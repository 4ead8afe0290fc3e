#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/seed-*. Run from anywhere:
`python3 fuzz/make_seeds.py`. Seeds are small and meaningful; the fuzzer's own discoveries are
not committed (see fuzz/README.md). The input layouts are documented in src/fuzzing.rs."""

import hashlib
import hmac
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY_MASK = bytes([0x37, 0xFA, 0x21, 0x3D])
APP_KEY, APP_SECRET = "app-key", "app-secret"


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def header(first, length, masked=True):
    out = bytearray([first])
    m = 0x80 if masked else 0
    if length < 126:
        out.append(m | length)
    elif length <= 0xFFFF:
        out += bytes([m | 126]) + struct.pack(">H", length)
    else:
        out += bytes([m | 127]) + struct.pack(">Q", length)
    if masked:
        out += KEY_MASK
    return bytes(out)


def frame(first, payload, masked=True):
    if isinstance(payload, str):
        payload = payload.encode()
    body = bytes(b ^ KEY_MASK[i % 4] for i, b in enumerate(payload)) if masked else payload
    return header(first, len(payload), masked) + body


TEXT, TEXT_MORE, BINARY, BINARY_MORE = 0x81, 0x01, 0x82, 0x02
CONT, CONT_FIN, CLOSE, PING, PONG = 0x00, 0x80, 0x88, 0x89, 0x8A


def sign_token(*parts):
    return APP_KEY + ":" + hmac.new(APP_SECRET.encode(), "".join(parts).encode(), hashlib.sha256).hexdigest()


SOCKET_ID = "123456789.4352"
SUBSCRIBE_PRIVATE = json.dumps(
    {"event": "pusher:subscribe",
     "data": {"auth": sign_token(SOCKET_ID, ":", "private-orders"), "channel": "private-orders"}},
    separators=(",", ":"))
PRESENCE_DATA = json.dumps({"user_id": "42", "user_info": {"name": "Ada"}}, separators=(",", ":"))
SUBSCRIBE_PRESENCE = json.dumps(
    {"event": "pusher:subscribe",
     "data": {"auth": sign_token(SOCKET_ID, ":", "presence-room", ":", PRESENCE_DATA),
              "channel": "presence-room", "channel_data": PRESENCE_DATA}},
    separators=(",", ":"))

# ------------------------------------------------------------------------------ frame_header
fh = {
    "text-rfc-hello": frame(TEXT, "Hello"),
    "text-unmasked": frame(TEXT, "Hello", masked=False),
    "binary-125": header(BINARY, 125),
    "binary-16bit-126": header(BINARY, 126),
    "binary-16bit-65535": header(BINARY, 65535),
    "binary-64bit-65536": header(BINARY, 65536),
    "binary-64bit-max": header(BINARY, (1 << 63) - 1, masked=False),
    "text-more": header(TEXT_MORE, 3),
    "continuation": header(CONT, 1),
    "continuation-fin": header(CONT_FIN, 0),
    "close-1000": frame(CLOSE, struct.pack(">H", 1000)),
    "ping": frame(PING, "hb"),
    "pong-unmasked": frame(PONG, b"", masked=False),
    "err-rsv1": bytes([0xC1, 0x80]),
    "err-opcode-3": bytes([0x83, 0x80]),
    "err-opcode-f": bytes([0x8F]),
    "err-fragmented-ping": bytes([0x09, 0x80]),
    "err-ping-126": bytes([0x89, 0xFE, 0x00, 0x7E]),
    "err-16bit-nonminimal": bytes([0x82, 0xFE, 0x00, 0x7D]),
    "err-64bit-nonminimal": bytes([0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
    "err-64bit-msb": bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]),
    "partial-1": bytes([0x81]),
    "partial-16bit": bytes([0x81, 0xFE, 0x01]),
}
for name, data in fh.items():
    write("frame_header", name, data)

# ------------------------------------------------------------------------------ frame_stream
# [limit index into STREAM_LIMITS][splits][splits x u16 BE][stream]
LIMIT_1MIB, LIMIT_64, LIMIT_16, LIMIT_0 = 11, 4, 3, 0


def stream(limit, cuts, *frames):
    s = b"".join(frames)
    return bytes([limit, len(cuts)]) + b"".join(struct.pack(">H", c) for c in cuts) + s


fs = {
    "hello": stream(LIMIT_1MIB, [], frame(TEXT, "Hello")),
    "hello-split": stream(LIMIT_1MIB, [1, 3, 7], frame(TEXT, "Hello")),
    "subscribe-private": stream(LIMIT_1MIB, [2, 40], frame(TEXT, SUBSCRIBE_PRIVATE)),
    "subscribe-presence-ping": stream(LIMIT_1MIB, [5], frame(TEXT, SUBSCRIBE_PRESENCE),
                                      frame(TEXT, '{"event":"pusher:ping","data":{}}')),
    "client-event-16bit": stream(LIMIT_1MIB, [3, 100], frame(
        TEXT, '{"event":"client-typing","channel":"private-chat","data":{"text":"' + "x" * 150 + '"}}')),
    "binary": stream(LIMIT_1MIB, [], frame(BINARY, bytes(range(40)))),
    "fragmented-utf8-with-ping": stream(
        LIMIT_1MIB, [4, 9, 15],
        frame(TEXT_MORE, "a\u20ac".encode()[:2]), frame(PING, "p"),
        frame(CONT, "a\u20ac".encode()[2:]), frame(CONT_FIN, "b")),
    "fragmented-binary": stream(LIMIT_64, [8],
                                frame(BINARY_MORE, b"\x01\x02"), frame(CONT, b"\x03"),
                                frame(CONT_FIN, b"\x04")),
    "close-1000-bye": stream(LIMIT_1MIB, [], frame(CLOSE, struct.pack(">H", 1000) + b"bye")),
    "close-empty": stream(LIMIT_1MIB, [], frame(CLOSE, b"")),
    "pong": stream(LIMIT_1MIB, [], frame(PONG, b"x")),
    "err-unmasked": stream(LIMIT_1MIB, [], frame(TEXT, "x", masked=False)),
    "err-too-big": stream(LIMIT_16, [3], frame(TEXT, "x" * 17)),
    "err-too-big-fragments": stream(LIMIT_16, [], frame(TEXT_MORE, "x" * 10), frame(CONT_FIN, "x" * 10)),
    "err-limit-0": stream(LIMIT_0, [], frame(TEXT, "")),
    "err-invalid-utf8": stream(LIMIT_1MIB, [], frame(TEXT, b"\xc3")),
    "err-continuation-first": stream(LIMIT_1MIB, [], frame(CONT_FIN, "x")),
    "err-data-inside-fragments": stream(LIMIT_1MIB, [], frame(TEXT_MORE, "a"), frame(TEXT, "b")),
    "err-close-code-1005": stream(LIMIT_1MIB, [], frame(CLOSE, struct.pack(">H", 1005))),
    "err-close-1-byte": stream(LIMIT_1MIB, [], frame(CLOSE, b"\x03")),
    "huge-header-only": stream(LIMIT_1MIB, [], header(BINARY, 1 << 62)),
    "three-messages-byte-cuts": stream(LIMIT_1MIB, list(range(1, 30)),
                                       frame(TEXT, "a"), frame(PING, ""), frame(BINARY, b"\xff")),
}
for name, data in fs.items():
    write("frame_stream", name, data)

# ------------------------------------------------------------------------------ http_head
# [ctrl][head]: ctrl bits 0-1 head limit (64/256/1024/4096), 2-4 headers
# (0/1/2/4/8/16/64/100), 5-6 body limit (0/10/1000/max).
ROOMY = 3 | (6 << 2) | (3 << 5)
TIGHT = 1 | (4 << 2) | (1 << 5)


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def signed_query(method, path, body, extra=(), ts=1700000000):
    params = [("auth_key", APP_KEY), ("auth_timestamp", str(ts)), ("auth_version", "1.0")]
    if method == "POST" or body:
        params.append(("body_md5", md5hex(body or b"{}")))
    params += list(extra)
    params.sort(key=lambda kv: kv[0])
    to_sign = method + "\n" + path + "\n" + "&".join(k + "=" + v for k, v in params)
    sig = hmac.new(APP_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return "&".join(k + "=" + v for k, v in params) + "&auth_signature=" + sig


EVENT_BODY = b'{"name":"my-event","data":"{\\"message\\":\\"hello world\\"}","channels":["my-channel"]}'
BATCH_BODY = (b'{"batch":[{"channel":"my-channel","name":"a","data":"{}"},'
              b'{"channel":"private-x","name":"b","data":"{\\"n\\":1}","socket_id":"1.2"}]}')

heads = {
    "pusher-js-chrome-upgrade": (
        "GET /app/app-key?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\n"
        "Host: 127.0.0.1:6001\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: http://localhost:3000\r\n"
        "Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n"
        "Accept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n").encode(),
    "pusher-js-firefox-upgrade": (
        "GET /app/app-key?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\n"
        "Host: localhost:6001\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n"
        "Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
        "Sec-WebSocket-Version: 13\r\nOrigin: http://localhost:3000\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
        "Connection: keep-alive, Upgrade\r\nSec-Fetch-Dest: empty\r\nSec-Fetch-Mode: websocket\r\n"
        "Sec-Fetch-Site: same-site\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n").encode(),
    "pusher-js-node-upgrade": (
        "GET /app/app-key?protocol=7&client=node&version=8.4.0&flash=false HTTP/1.1\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nHost: 127.0.0.1:6001\r\n\r\n").encode(),
    "pusher-http-node-events": (
        "POST /apps/app-id/events?" + signed_query("POST", "/apps/app-id/events", EVENT_BODY) + " HTTP/1.1\r\n"
        "Content-Type: application/json\r\nX-Pusher-Library: pusher-http-node 5.2.0\r\nAccept: */*\r\n"
        "Content-Length: " + str(len(EVENT_BODY)) + "\r\n"
        "User-Agent: node-fetch/1.0 (+https://github.com/bitinn/node-fetch)\r\n"
        "Accept-Encoding: gzip,deflate\r\nConnection: close\r\nHost: 127.0.0.1:6001\r\n\r\n").encode() + EVENT_BODY,
    "pusher-http-php-batch": (
        "POST /apps/app-id/batch_events?" + signed_query("POST", "/apps/app-id/batch_events", BATCH_BODY)
        + " HTTP/1.1\r\nHost: 127.0.0.1:6001\r\nUser-Agent: GuzzleHttp/7\r\n"
        "Content-Type: application/json\r\nX-Pusher-Library: pusher-http-php 7.2.4\r\n"
        "Content-Length: " + str(len(BATCH_BODY)) + "\r\n\r\n").encode() + BATCH_BODY,
    "get-channels-info": (
        "GET /apps/app-id/channels?" + signed_query("GET", "/apps/app-id/channels", b"",
                                                     [("filter_by_prefix", "presence-"), ("info", "user_count")])
        + " HTTP/1.1\r\nHost: localhost\r\n\r\n").encode(),
    "get-health-http10": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "pipelined": b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "query-escapes": b"GET /apps/app%2Did/channels/presence-%40x?info=a%2Cb&x=%zz&y=+%E2%82%AC HTTP/1.1\r\n\r\n",
    "err-chunked": b"POST /apps/1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "err-two-lengths": b"POST /apps/1/events HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "err-length-sign": b"POST /apps/1/events HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
    "err-absolute-form": b"GET http://x/ HTTP/1.1\r\n\r\n",
    "err-bad-version": b"GET / HTTP/2.0\r\n\r\n",
    "partial": b"GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: 127.0.0",
}
for name, head in heads.items():
    write("http_head", name, bytes([ROOMY]) + head)
write("http_head", "tight-upgrade", bytes([TIGHT]) + heads["pusher-js-node-upgrade"])
write("http_head", "tight-events", bytes([TIGHT]) + heads["pusher-http-node-events"])
write("http_head", "tight-small", bytes([TIGHT]) + b"POST /apps/1/events HTTP/1.1\r\nContent-Length: 11\r\n\r\n")

# ------------------------------------------------------------------------------ pusher_message
msgs = {
    "subscribe-public": '{"event":"pusher:subscribe","data":{"channel":"my-channel"}}',
    "subscribe-private": SUBSCRIBE_PRIVATE,
    "subscribe-presence": SUBSCRIBE_PRESENCE,
    "subscribe-presence-numeric-id": json.dumps(
        {"event": "pusher:subscribe", "data": {"auth": "app-key:00", "channel": "presence-a",
                                               "channel_data": '{"user_id":7,"user_info":null}'}}),
    "subscribe-cache": '{"event":"pusher:subscribe","data":{"channel":"private-cache-x","auth":"k:s"}}',
    "subscribe-data-as-string": '{"event":"pusher:subscribe","data":"{\\"channel\\":\\"b\\"}"}',
    "unsubscribe": '{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}',
    "ping": '{"event":"pusher:ping","data":{}}',
    "pong": '{"event":"pusher:pong","data":{}}',
    "signin": json.dumps({"event": "pusher:signin",
                          "data": {"user_data": '{"id":"u1","user_info":{"name":"Ada"}}', "auth": "app-key:ab"}}),
    "client-event-object": '{"event":"client-typing","channel":"private-chat","data":{"text":"' + "m" * 80 + '"}}',
    "client-event-string": '{"event":"client-typing","channel":"presence-room","data":"{\\"a\\":1}"}',
    "client-event-number": '{"event":"client-n","channel":"private-a","data":-1.5e3}',
    "escapes": '{"event":"client-\\u00e9\\"q\\\\","channel":"private-\\n\\u0000","data":["\\ud83d\\ude00",null,true]}',
    "unicode": '{"event":"client-\u00e7a","channel":"private-\u20ac","data":{"\u6f22":"\U0001F600"}}',
    "extra-fields": '{"event":"x","channel":"c","data":1,"user_id":"u","extra":[1,2]}',
    "no-data": '{"event":"pusher:subscribe"}',
    "err-event-number": '{"event":1}',
    "err-truncated": '{"event":"x"',
}
for name, text in msgs.items():
    write("pusher_message", name, text.encode())

# ------------------------------------------------------------------------------ rest_body
# [flags][query_len][query][body]: flags bit 0 batch, bit 1 signed (query = extra params),
# bits 2-7 server-time skew in 60 s steps (signed).


def rest(flags, query, body):
    return bytes([flags, len(query)]) + query + body


EVENTS, BATCH, SIGNED = 0, 1, 2
SKEW_20_MIN = (20 & 0x3F) << 2  # outside the 600 s window
rb = {
    "events-signed": rest(EVENTS | SIGNED, b"", EVENT_BODY),
    "events-signed-extra": rest(EVENTS | SIGNED, b"info=user_count&x=a+b%2C", EVENT_BODY),
    "events-channel-socket-id": rest(EVENTS | SIGNED, b"",
                                     b'{"name":"e","channel":"private-a","data":{"x":1},"socket_id":"123456789.4352"}'),
    "events-server-to-user": rest(EVENTS, b"", b'{"name":"e","channel":"#server-to-user-42","data":"hi"}'),
    "events-falsy": rest(EVENTS, b"", b'{"name":"e","channels":["a","b"],"data":0}'),
    "events-bad-names": rest(EVENTS, b"", b'{"name":"","channels":["a b","#server-to-user-","' + b"c" * 210 + b'"],"data":""}'),
    "events-bad-socket-id": rest(EVENTS, b"", b'{"name":"e","channel":"a","data":"x","socket_id":"1.99999999999999999999"}'),
    "events-escapes": rest(EVENTS, b"", b'{"name":"\\u00e9v\\"","channel":"pr\\u0069vate-a","data":"\\ud83d\\ude00"}'),
    "events-expired": rest(EVENTS | SIGNED | SKEW_20_MIN, b"", EVENT_BODY),
    "events-empty-body": rest(EVENTS | SIGNED, b"", b""),
    "events-unsigned-sdk-query": rest(EVENTS, signed_query("POST", "/apps/app-id/events", EVENT_BODY).encode(), EVENT_BODY),
    "events-unsigned-repeated": rest(EVENTS, b"auth_signature=a&auth_signature=b&auth_key=app-key&auth_timestamp=-9223372036854775808", b"{}"),
    "batch-signed": rest(BATCH | SIGNED, b"", BATCH_BODY),
    "batch-mixed": rest(BATCH, b"", b'{"batch":[{"name":"a","channels":["x","y"],"data":{}},{"name":"b"},{}]}'),
    "batch-not-a-list": rest(BATCH, b"", b'{"batch":{}}'),
}
for name, data in rb.items():
    write("rest_body", name, data)
