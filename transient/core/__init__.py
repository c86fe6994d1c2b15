"""The pure core: money, the status rule, event names, time, errors, keys, redaction, text checks.

Imports nothing of Transient outside core: everything else may import it."""
