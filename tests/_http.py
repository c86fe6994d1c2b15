"""A loopback HTTP server in a thread, for the test receivers and exchanges."""

import threading
from http.server import ThreadingHTTPServer


def serve(port, handler):
    """Start a ThreadingHTTPServer on 127.0.0.1:``port`` with ``handler``; return it."""
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def close(server):
    """Stop ``server`` (None passes) and free its port."""
    if server is not None:
        server.shutdown()
        server.server_close()
