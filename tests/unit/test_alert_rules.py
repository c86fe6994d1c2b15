"""deploy/prometheus-alerts.yml only uses metrics that GET /metrics exports
(promtool checks its syntax and behaviour: tests/integration/test_alert_rules_promtool.py)."""

import pathlib
import re

from fakes import fake_runtime

RULES = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "prometheus-alerts.yml"
# prometheus_client's TYPE line of a counter names it with its _total already.
SUFFIXES = {"histogram": ("_bucket", "_count", "_sum")}


def exported(text):
    """Every sample name the exposition ``text`` can hold, from its TYPE lines (a
    labelled family shows its TYPE before any of its series exists)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.update(name + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


def test_every_metric_the_alert_rules_use_is_exported(tmp_path):
    client, runtime = fake_runtime(tmp_path)
    try:
        text = client.simulate_get("/metrics").text
    finally:
        runtime.close()
    used = set(re.findall(r"\btransient_[a-z0-9_]+\b", RULES.read_text()))
    assert len(used) >= 8  # node, sync (3), outbox (2), deliveries, pool, database
    assert used - exported(text) == set()


def test_the_rules_cover_what_an_operator_must_hear_of():
    text = RULES.read_text()
    for alert in (
        "TransientSyncStalled",
        "TransientOutboxBacklogGrowing",
        "TransientWebhooksFailing",
        "TransientNodeUnreachable",
        "TransientAddressPoolEmpty",
    ):
        assert "alert: %s\n" % alert in text
