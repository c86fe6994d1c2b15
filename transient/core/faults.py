"""Named fault points, for the crash-safety and watchdog tests.

``TRANSIENT_FAULTS=sync.before_commit`` makes the process kill itself (SIGKILL,
no clean-up, as a power cut would) when it reaches that point.
``TRANSIENT_FAULTS=sync.before_apply:hang:3`` makes the thread that reaches the point
for the third time (and any later one) block for ever, as a sync stuck on a lock or a
dead connection would. Unset, a point costs one set lookup.

Points: ``sync.*`` (chain/sync.py), ``rescan.after_batch``, ``amqp.before_reply``,
``payouts.before_send`` and ``payouts.after_send`` (payouts/sender.py: the batch is
recorded; the node has the transaction but Transient has not recorded it),
``email.after_send`` (delivery/mail.py: the SMTP server took the message, its attempt is
not recorded), and
``rpc.answered.<method>`` (the node answered, the answer is not read yet:
``rpc.answered.sendmany`` is a payout batch dying in the middle of its send).
"""

import logging
import os
import signal
import threading
from collections import Counter

log = logging.getLogger("transient.faults")


def _parse(text):
    """Return ``(points that kill, {point: the hit from which it hangs})``."""
    kill, hang = set(), {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        name, _, mode = item.partition(":")
        if mode.startswith("hang"):
            count = mode.partition(":")[2]
            hang[name] = int(count) if count.isdigit() else 1
        else:
            kill.add(name)
    return frozenset(kill), hang


_KILL, _HANG = _parse(os.environ.get("TRANSIENT_FAULTS", ""))
_ARMED = _KILL | frozenset(_HANG)
_hits = Counter()
_lock = threading.Lock()


def point(name):
    if name not in _ARMED:
        return
    if name in _KILL:
        os.kill(os.getpid(), signal.SIGKILL)
    with _lock:
        _hits[name] += 1
        hit = _hits[name]
    if hit >= _HANG[name]:
        log.warning("fault point %s: hanging for ever (TRANSIENT_FAULTS, hit %d)", name, hit)
        threading.Event().wait()
