"""Fiat rates: the sources (plugins), the pure rules that turn quotes into one rate
(median, deviation, staleness, cross, rounding), the stored quotes with their per-pair
refresh lease, and the refresher job. May import ``core`` and ``store`` only."""
