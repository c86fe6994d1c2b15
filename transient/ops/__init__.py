"""Running the process: memory tuning for the workers (glibc arenas, recycling after a burst),
and systemd's notify protocol (READY, STATUS, WATCHDOG, STOPPING).

May import only core."""
