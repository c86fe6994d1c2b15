"""The thread that sends approved payouts and follows their transactions, in one process
of the cluster at a time (a job lease): a round per ``interval``, sooner when woken (an
approval)."""

import logging
import threading

from ..core.errors import NodeError

log = logging.getLogger("transient.payouts")


class PayoutRunner:
    """Runs each coin's ``(PayoutSender or None, Tracker, Detector)`` of ``coins`` (code ->
    the three; no sender: a coin whose payouts are paid by the merchant, and detected)."""

    def __init__(self, coins, interval=30.0, lease=None, min_gap=0.5):
        self.coins = coins
        self.interval = interval
        self.lease = lease  # store.leases.ClusterLease; None: always run
        self.min_gap = min_gap
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._failing = set()

    def wake(self, currency=None):
        self._event.set()

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="payouts", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
        if self.lease is not None:
            try:
                self.lease.release()
            except Exception:  # noqa: BLE001 - the database may be gone; the lease expires then
                log.debug("could not release the payouts lease", exc_info=True)

    def _loop(self):
        while not self._stop.is_set():
            self.round()
            self._event.wait(self.interval)
            self._event.clear()
            self._stop.wait(self.min_gap)

    def round(self):
        """One round over every coin, when this process holds the lease; True when it did."""
        try:
            if self.lease is not None and not self.lease.claim():
                return False
        except Exception:  # noqa: BLE001 - a database hiccup: next round
            log.debug("could not claim the payouts lease", exc_info=True)
            return False
        for code, (sender, tracker, detector) in sorted(self.coins.items()):
            try:
                tracker.run()
                detector.run()  # before the sender: a payout someone else paid is not sent again
                if sender is not None:
                    sender.run()
            except NodeError as exc:
                if code not in self._failing:
                    log.warning("%s: payouts: %s (retrying)", code, exc)
                self._failing.add(code)
                continue
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the thread
                log.exception("%s: payouts round failed", code)
                continue
            self._failing.discard(code)
        return True
