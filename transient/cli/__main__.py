"""``python -m transient.cli``: the same as the ``transient`` command."""

import sys

from .commands import main

sys.exit(main())
