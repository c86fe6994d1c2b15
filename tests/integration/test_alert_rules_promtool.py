"""deploy/prometheus-alerts.yml through Prometheus's own tool: `promtool check rules`
(syntax, PromQL), and `promtool test rules` on series that must fire an alert and
series that must not. promtool comes from Debian's prometheus package (scripts/test
installs it on CI; without it these tests skip, or fail under TRANSIENT_REQUIRE_SERVICES=1)."""

import pathlib
import shutil
import subprocess

from _services import _missing

RULES = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "prometheus-alerts.yml"

CASES = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'transient_address_pool_available{{currency="LTC",instance="a"}}'
        values: '5 0x20'
      - series: 'transient_address_pool_available{{currency="DOGE",instance="a"}}'
        values: '5x20'
      - series: 'transient_node_up{{currency="LTC",instance="a"}}'
        values: '1 1 0x10'
      - series: 'transient_sync_seconds_since_success{{currency="LTC",instance="a"}}'
        values: '0+60x20'
      - series: 'transient_deliveries_total{{kind="webhook",outcome="sent",instance="a"}}'
        values: '0x30'
      - series: 'transient_deliveries_total{{kind="webhook",outcome="retried",instance="a"}}'
        values: '0+5x30'
      - series: 'transient_reconcile_differences{{currency="LTC",instance="a"}}'
        values: '0 0 2x10'
    alert_rule_test:
      - eval_time: 15m
        alertname: TransientAddressPoolEmpty
        exp_alerts:
          - exp_labels: {{severity: warning, currency: LTC, instance: a}}
            exp_annotations:
              summary: "LTC address pool is empty"
              description: "New payments wait for the node to hand out an address (or fail with a watch-only key)."
      - eval_time: 10m
        alertname: TransientNodeUnreachable
        exp_alerts:
          - exp_labels: {{severity: critical, currency: LTC, instance: a}}
            exp_annotations:
              summary: "LTC node does not answer Transient"
              description: "The LTC node has not answered for 5 minutes: no payment of this coin is seen."
      - eval_time: 5m
        alertname: TransientSyncStalled
        exp_alerts: []
      - eval_time: 1m
        alertname: TransientLedgerDiffersFromWallet
        exp_alerts: []
      - eval_time: 3m
        alertname: TransientLedgerDiffersFromWallet
        exp_alerts:
          - exp_labels: {{severity: critical, currency: LTC, instance: a}}
            exp_annotations:
              summary: "LTC ledger differs from the node's wallet"
              description: "2 difference(s) between the LTC ledger and its wallet: run `transient reconcile LTC`."
      - eval_time: 20m
        alertname: TransientWebhooksFailing
        exp_alerts:
          - exp_labels: {{severity: warning, instance: a}}
            exp_annotations:
              summary: "Most webhook deliveries fail (receiver down or answering errors)"
"""


def promtool():
    path = shutil.which("promtool")
    if path is None:
        _missing("promtool is not installed (Debian: apt-get install prometheus)")
    return path


def test_promtool_checks_the_rules():
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 13 rules found" in done.stdout + done.stderr


def test_the_rules_fire_on_the_series_that_must_fire_them(tmp_path):
    cases = tmp_path / "cases.yml"
    cases.write_text(CASES.format(rules=RULES))
    done = subprocess.run([promtool(), "test", "rules", str(cases)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
