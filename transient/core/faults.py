"""Named crash points, for the crash-safety tests.

``TRANSIENT_FAULTS=sync.before_commit`` makes the process kill itself (SIGKILL,
no clean-up, as a power cut would) when it reaches that point. Unset, a point
costs one set lookup.
"""

import os
import signal

_ARMED = frozenset(filter(None, os.environ.get("TRANSIENT_FAULTS", "").split(",")))


def point(name):
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
