"""Running the process: memory tuning for the workers (glibc arenas, recycling after a burst).

May import only core."""
