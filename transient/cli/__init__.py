"""The `transient` command: payments, webhooks, devnet, doctor, rescans.

May import every room and runtime; nothing imports it. The entry point is
``transient.cli:main``."""

from .commands import main

__all__ = ["main"]
