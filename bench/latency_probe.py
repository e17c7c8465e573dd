#!/usr/bin/env python3
"""Latency probes of bench/cluster.sh and bench/http_get.sh, over keep-alive HTTP/1.1 connections
(standard library only).

Each probe prints one JSON object of millisecond samples' p50 and p99:
  freshness A B N      PUT a playlist version on A, then GET on B until it serves it: A's answer -> B's
  wake A B N           a blocking reload parked on B, woken by the playlist PUT on A: A's answer -> B's
  put URL SIZE N       sequential PUTs of SIZE bytes: request sent -> answer
  write URL DIR SIZE N writes N objects of SIZE bytes under /DIR/
  cold URL DIR N       first GETs of the N objects under /DIR/ (time to the last byte)
  miss URL N [SIZE]    PUT a new version of a SIZE-byte (2048) live playlist, then time the first GET of it
                       (request sent -> last byte): with a decision cache, a miss every time
"""
import http.client
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlparse


def conn(base):
    u = urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def request(c, method, path, body=None):
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    return r.status, data


def quantiles(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"n": len(s), "p50": round(pick(0.50), 3), "p99": round(pick(0.99), 3)}


def playlist(version, parts=None):
    head = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
    if parts is None:
        return f"{head}#EXT-X-MEDIA-SEQUENCE:{version}\n#EXTINF:2.0,\nseg{version}.ts\n".encode()
    text = (head + "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n"
            "#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:0\n")
    for p in range(parts):
        text += f'#EXT-X-PART:DURATION=0.5,URI="0.{p}.m4s"\n'
    return (text + f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="0.{parts}.m4s"\n').encode()


def freshness(a, b, n):
    ca, cb = conn(a), conn(b)
    samples = []
    for v in range(1, n + 1):
        status, _ = request(ca, "PUT", "/fresh/index.m3u8", playlist(v))
        assert status in (200, 201, 204), status
        acked = time.perf_counter()
        while True:
            status, body = request(cb, "GET", "/fresh/index.m3u8")
            if status == 200 and f"SEQUENCE:{v}\n".encode() in body:
                break
        samples.append((time.perf_counter() - acked) * 1000)
    return quantiles(samples)


def wake(a, b, n):
    ca = conn(a)
    samples = []
    for round_ in range(n):
        folder = f"/wake/r{round_}"
        request(ca, "PUT", f"{folder}/0.0.m4s", b"part")
        request(ca, "PUT", f"{folder}/index.m3u8", playlist(0, parts=1))
        cb = conn(b)
        while request(cb, "GET", f"{folder}/index.m3u8")[1] != playlist(0, parts=1):
            pass
        answered = {}

        def park():
            c = conn(b)
            status, body = request(c, "GET", f"{folder}/index.m3u8?_HLS_msn=0&_HLS_part=1")
            answered["at"] = time.perf_counter()
            answered["ok"] = status == 200 and b'"0.1.m4s"' in body

        t = threading.Thread(target=park)
        t.start()
        time.sleep(0.05)  # let the request park on B (a benchmark may pace itself; tests poll)
        request(ca, "PUT", f"{folder}/0.1.m4s", b"part")
        status, _ = request(ca, "PUT", f"{folder}/index.m3u8", playlist(0, parts=2))
        acked = time.perf_counter()
        t.join(30)
        assert answered.get("ok"), answered
        samples.append(max(0.0, answered["at"] - acked) * 1000)
    return quantiles(samples)


def put(url, size, n):
    c = conn(url)
    body = bytes(i % 251 for i in range(size))
    samples = []
    for i in range(n):
        started = time.perf_counter()
        status, _ = request(c, "PUT", f"/put/{size}/{i % 20}.ts", body)
        samples.append((time.perf_counter() - started) * 1000)
        assert status in (200, 201, 204), status
    return quantiles(samples)


def write(url, folder, size, n):
    c = conn(url)
    for i in range(n):
        body = bytes((i + j) % 251 for j in range(size))
        status, _ = request(c, "PUT", f"/{folder}/{i}.ts", body)
        assert status in (200, 201, 204), status
    return {"n": n}


def cold(url, folder, n):
    c = conn(url)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        status, body = request(c, "GET", f"/{folder}/{i}.ts")
        samples.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    return quantiles(samples)


def live_playlist(version, size):
    """A live media playlist of exactly `size` bytes whose text changes with `version`."""
    text = f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{version}\n"
    i = version
    while len(text) < size - 64:
        text += f"#EXTINF:2.000000,\nsegment_{i:06d}.ts\n"
        i += 1
    pad = size - len(text) - 2
    assert pad >= 0, size
    return (text + "#" + "x" * pad + "\n").encode()


def miss(url, n, size=2048):
    c = conn(url)
    path = f"/miss/{size}/index.m3u8"
    samples = []
    for v in range(1, n + 1):
        body = live_playlist(v, size)
        status, _ = request(c, "PUT", path, body)
        assert status in (200, 201, 204), status
        started = time.perf_counter()
        status, got = request(c, "GET", path)
        samples.append((time.perf_counter() - started) * 1000)
        assert status == 200 and got == body, (status, len(got))
    return quantiles(samples)


if __name__ == "__main__":
    probe, args = sys.argv[1], sys.argv[2:]
    if probe in ("freshness", "wake"):
        out = globals()[probe](args[0], args[1], int(args[2]))
    elif probe == "put":
        out = put(args[0], int(args[1]), int(args[2]))
    elif probe == "miss":
        out = miss(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 2048)
    elif probe == "write":
        out = write(args[0], args[1], int(args[2]), int(args[3]))
    else:
        out = cold(args[0], args[1], int(args[2]))
    print(json.dumps(out))
