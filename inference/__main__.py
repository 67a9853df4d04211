"""``python -m inference``: predict, segment, train and evaluate from the command line."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
