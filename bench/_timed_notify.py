"""For the benchmarks: run transient-notify's ping and append how long it took to a log.

    python3 -I -S bench/_timed_notify.py LOG [transient-notify arguments...]

Standard library only, like the script it wraps. Each line of LOG: the outcome (the
HTTP status, "c" when the ping was coalesced into one not yet sent, "eN" for a
failure with exit code N), the wall-clock time it ended and its duration in seconds.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "transient", "chain"))
import notify_script  # noqa: E402  (transient/chain/notify_script.py, imported as a plain module)

started = time.perf_counter()
try:
    answer = notify_script.ping(*notify_script.parse(sys.argv[2:]))
    # "c": coalesced (another ping still to be sent covers this event), else the status
    code = "c" if answer is None else str(answer[0])
except notify_script.Failure as exc:
    sys.stderr.write("transient-notify: %s\n" % exc)
    code = "e%d" % exc.code
line = "%s %.6f %.6f\n" % (code, time.time(), time.perf_counter() - started)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, line.encode())
os.close(fd)
sys.exit(0 if code in ("c", "202") else 1)
