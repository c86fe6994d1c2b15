"""For the benchmarks: a small HTTP/1.1 load generator (keep-alive, asyncio, one process).

    rate, latencies, errors = run(host, port, requests, connections, seconds)
    rate, latencies, errors = run(host, port, requests, connections, seconds, total=2000)

``requests`` is a list of raw request bytes, sent round-robin; each connection keeps
one request in flight. It runs in a child process so the bench's own threads do not
share its interpreter lock. With ``total``, the run stops after that many requests
(or ``seconds``, whichever comes first).
"""

import asyncio
import multiprocessing
import time


async def _connection(host, port, requests, offset, until, latencies, errors, left):
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.monotonic() < until and left[0] != 0:
            left[0] -= 1
            request = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status >= 400:
                errors.append(status)
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _main(host, port, requests, connections, seconds, total=None):
    latencies, errors = [], []
    left = [-1 if total is None else total]  # requests still to send (-1: no limit)
    until = time.monotonic() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(host, port, requests, c * 7919, until, latencies, errors, left) for c in range(connections))
    )
    return len(latencies) / (time.perf_counter() - started), latencies, errors


def _child(queue, *args):
    queue.put(asyncio.run(_main(*args)))


def run(host, port, requests, connections=16, seconds=10.0, total=None):
    """Return (requests per second, [latency seconds], [error statuses])."""
    queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_child, args=(queue, host, port, requests, connections, seconds, total))
    proc.start()
    result = queue.get(timeout=seconds + 120)
    proc.join()
    return result


def request(method, path, body=b"", headers=()):
    """Raw HTTP/1.1 request bytes (keep-alive)."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    lines += list(headers)
    if body or method == "POST":
        lines += ["Content-Type: application/json", "Content-Length: %d" % len(body)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
