#!/usr/bin/env python3
"""Live ingest load of bench/ingest.sh: WRITERS ffmpeg-like encoders PUT to one origin for SECONDS
(standard library only: a thread and one keep-alive HTTP/1.1 connection per writer).

  ingest_driver.py URL WRITERS SECONDS SEGMENT_FILE [WINDOW]

Writer N loops: PUT the segment (the bytes of SEGMENT_FILE, a 2 s segment) at /live/wN/seg_K.ts, then its
media playlist /live/wN/index.m3u8 naming the last WINDOW (60) segments (a few hundred bytes growing to
about 2 KiB), K = 0, 1, 2, ... Only 201 and 204 count as success; anything else (or a broken connection,
after which the writer reconnects) is an error.

Prints one JSON object: the wall time, counts, segments/s, playlists/s, MB/s (10^6 bytes of bodies PUT per
second, both kinds) and p50/p99 of each kind's PUT latency in ms (request sent -> answer read).
"""
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlparse

OK = (201, 204)


def quantile(samples, q):
    if not samples:
        return None
    s = sorted(samples)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


def media_playlist(last, window):
    first = max(0, last - window + 1)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for k in range(first, last + 1):
        lines += ["#EXTINF:2.000000,", f"seg_{k}.ts"]
    return ("\n".join(lines) + "\n").encode()


class Writer(threading.Thread):
    def __init__(self, base, n, deadline, segment, window):
        super().__init__(daemon=True)
        self.base, self.n, self.deadline = urlparse(base), n, deadline
        self.segment, self.window = segment, window
        self.seg_ms, self.pl_ms = [], []
        self.bytes = 0
        self.errors = 0
        self.first_errors = []
        self.conn = None

    def put(self, path, body, content_type):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=60)
        started = time.perf_counter()
        try:
            self.conn.request("PUT", path, body=body, headers={"Content-Type": content_type})
            r = self.conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            status = repr(e)
        took = (time.perf_counter() - started) * 1000
        if status in OK:
            self.bytes += len(body)
            return took
        self.errors += 1
        if len(self.first_errors) < 3:
            self.first_errors.append(f"PUT {path}: {status}")
        return None

    def run(self):
        k = 0
        while time.perf_counter() < self.deadline:
            took = self.put(f"/live/w{self.n}/seg_{k}.ts", self.segment, "video/mp2t")
            if took is not None:
                self.seg_ms.append(took)
            took = self.put(f"/live/w{self.n}/index.m3u8", media_playlist(k, self.window),
                            "application/vnd.apple.mpegurl")
            if took is not None:
                self.pl_ms.append(took)
            k += 1
        if self.conn is not None:
            self.conn.close()


def main():
    url, writers, seconds, segment_file = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    window = int(sys.argv[5]) if len(sys.argv) > 5 else 60
    with open(segment_file, "rb") as f:
        segment = f.read()
    started = time.perf_counter()
    threads = [Writer(url, n, started + seconds, segment, window) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    seg_ms = [x for t in threads for x in t.seg_ms]
    pl_ms = [x for t in threads for x in t.pl_ms]
    total = sum(t.bytes for t in threads)
    print(json.dumps({
        "seconds": round(wall, 3),
        "segments": len(seg_ms),
        "playlists": len(pl_ms),
        "segments_per_s": round(len(seg_ms) / wall, 2),
        "playlists_per_s": round(len(pl_ms) / wall, 2),
        "mb_per_s": round(total / wall / 1e6, 2),
        "seg_p50": quantile(seg_ms, 0.50),
        "seg_p99": quantile(seg_ms, 0.99),
        "pl_p50": quantile(pl_ms, 0.50),
        "pl_p99": quantile(pl_ms, 0.99),
        "errors": sum(t.errors for t in threads),
        "first_errors": [e for t in threads for e in t.first_errors][:5],
    }))


if __name__ == "__main__":
    main()
