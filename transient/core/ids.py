"""Public ids of things a foreign API names (a Greenfield invoice, store, webhook, delivery),
and the random UUIDs of payments and events."""

import os
import secrets
import threading
import uuid

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def new_id(length=22, choice=secrets.choice):
    """A random base58 id (BTCPay's look; only ``[A-Za-z0-9]``, as its plugins keep them)."""
    return "".join(choice(_BASE58) for _ in range(length))


class RandomUuids:
    """Random (version 4) UUIDs, as ``uuid.uuid4``, from the OS's randomness read
    ``batch`` bytes at a time: ``uuid4`` makes a system call per id that lets go of
    Python's lock, and a create made two (its payment's and its event's), each then
    waiting for the lock again behind the other request threads. A fork starts the
    child on fresh bytes, so two processes never share one."""

    def __init__(self, batch=4096):
        self.batch = batch - batch % 16
        self._lock = threading.Lock()
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._bytes, self._at = b"", 0

    def __call__(self):
        with self._lock:
            if self._at >= len(self._bytes):
                self._bytes, self._at = os.urandom(self.batch), 0
            at = self._at
            self._at = at + 16
            return uuid.UUID(bytes=self._bytes[at : at + 16], version=4)


uuid4 = RandomUuids()  # the process's generator of payment and event ids
