"""For bench/notify_burst.py's baseline: the seed's walletnotify design, one process per event.

    python bench/_seed_notify.py DB RPC_URL USER PASSWORD LOG TXID

A full Python start that loads an application's libraries (requests, peewee), one
``gettransaction`` and one database write per notification, as the seed's
``notify_transaction.py`` did. Each line of LOG: exit code, the wall-clock end
time and the seconds this took after the interpreter started.
"""

import os
import sys
import time

started = time.perf_counter()
import peewee  # noqa: E402
import requests  # noqa: E402


def main(db_path, url, user, password, txid):
    reply = requests.post(
        url, json={"id": 1, "method": "gettransaction", "params": [txid]}, auth=(user, password), timeout=60
    )
    tx = reply.json()["result"]
    db = peewee.SqliteDatabase(db_path, pragmas={"journal_mode": "wal", "busy_timeout": 60000})
    with db.atomic():
        for detail in tx["details"]:
            if detail["category"] == "receive":
                status = "PAID" if tx["confirmations"] >= 1 else "PENDING"
                db.execute_sql(
                    "UPDATE seed_payment SET txid = ?, confirmations = ?, status = ? WHERE address = ?",
                    (txid, tx["confirmations"], status, detail["address"]),
                )
    db.close()


code = 0
try:
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[6])
except Exception as exc:  # noqa: BLE001 - logged as a failed notification
    sys.stderr.write("seed notify: %s\n" % exc)
    code = 1
line = "%d %.6f %.6f\n" % (code, time.time(), time.perf_counter() - started)
fd = os.open(sys.argv[5], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, line.encode())
os.close(fd)
sys.exit(code)
