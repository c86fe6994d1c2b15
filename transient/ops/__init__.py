"""Running the process: memory tuning for the workers (glibc arenas, recycling after a
burst), the Prometheus metrics, the one log format, the payment lifecycle lines and the
daemon's run directory.

May import only core."""
