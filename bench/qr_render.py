"""Cost of a payment's QR code: rendering PNG and SVG, and answering through the API
cold (200, rendered) or from the browser's copy (304, If-None-Match: nothing rendered).

Every figure is compared with the baseline measured in the same run: the seed's plain
``qr.png(uri)`` (qrcode's own PIL image factory, black on white, box 8).

The API rows run the real Falcon app in-process on a throwaway SQLite database with
one stored payment; no coin node is needed (a QR request never calls the node).

    python bench/qr_render.py --repeat 200
"""

import argparse
import statistics
import tempfile
import time
import uuid

from falcon import testing

from transient import settings
from transient.api.checkout import qr
from transient.core.clock import utcnow
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.models import Payment

ADDRESS = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"  # bech32 (BIP173 vector, Litecoin prefix)
URI = "litecoin:%s?amount=1.25" % ADDRESS


def timed(fn, repeat, cold=False):
    """Median seconds of ``fn()``; ``cold`` empties the module cache first each time."""
    times = []
    for _ in range(repeat):
        if cold:
            qr.matrix.cache_clear()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def render_rows(repeat):
    text = qr.payment_text({"payment_address": ADDRESS, "payment_uri": URI}, "uri")
    style = qr.Style()
    return [
        ("png render, cold", timed(lambda: qr.render_png(text, style), repeat, cold=True)),
        ("png render, matrix cached", timed(lambda: qr.render_png(text, style), repeat)),
        ("svg render, cold", timed(lambda: qr.render_svg(text, style), repeat, cold=True)),
        (
            "png 2048 px level H, cold",
            timed(
                lambda: qr.render_png(text, qr.Style(size=2048, error_correction="H")), max(3, repeat // 10), cold=True
            ),
        ),
    ]


def api_rows(workdir, repeat):
    path = "%s/config.toml" % workdir
    with open(path, "w") as fh:
        fh.write(
            '[database]\nurl = "sqlite:///%s/bench.db"\n[coins.LTC]\nbackend = "litecoin"\n'
            'rpc_url = "http://127.0.0.1:9"\nrpc_user = "u"\nrpc_password = "p"\n' % workdir
        )
    runtime = Runtime(settings.load(path, environ={}))
    try:
        migrations.apply(runtime.db)
        pid = uuid.uuid4()
        now = utcnow()
        Payment.create(
            id=pid,
            currency="LTC",
            amount=125000000,
            address=ADDRESS,
            status="UNPAID",
            confirmations_required=1,
            created_at=now,
            updated_at=now,
        )
        client = testing.TestClient(runtime.app())
        rows = []
        for fmt in ("png", "svg"):
            url = "/payments/%s/qrcode.%s" % (pid, fmt)
            first = client.simulate_get(url)
            assert first.status_code == 200, first.text
            tag = first.headers["etag"]
            rows.append(
                (
                    "GET .%s 200 (rendered, cold)" % fmt,
                    timed(lambda url=url: _expect(client.simulate_get(url), 200), repeat, cold=True),
                )
            )
            rows.append(
                (
                    "GET .%s 304 (If-None-Match)" % fmt,
                    timed(
                        lambda url=url, tag=tag: _expect(client.simulate_get(url, headers={"If-None-Match": tag}), 304),
                        repeat,
                        cold=True,
                    ),
                )
            )
        return rows
    finally:
        runtime.close()


def _expect(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed runs per row (median)")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 5
    baseline = timed(lambda: qr.png(URI), args.repeat)
    rows = render_rows(args.repeat)
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as workdir:
        rows += api_rows(workdir, args.repeat)
    print("%-32s %12s %12s" % ("what (320 px, level M)", "ms each", "vs baseline"))
    print("%-32s %12.2f %11.2fx" % ("baseline: qr.png(uri), seed", baseline * 1000, 1.0))
    for name, seconds in rows:
        print("%-32s %12.2f %11.2fx" % (name, seconds * 1000, seconds / baseline))


if __name__ == "__main__":
    main()
