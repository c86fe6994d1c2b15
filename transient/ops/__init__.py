"""Running the process: memory tuning for the workers (glibc arenas, recycling after a
burst), systemd's notify protocol (READY, STATUS, WATCHDOG, STOPPING), the Prometheus
metrics, the one log format, the payment lifecycle lines and the daemon's run directory.

May import only core."""
