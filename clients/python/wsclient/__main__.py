"""``python -m wsclient``: see wsclient.cli."""

from __future__ import annotations

import sys

from wsclient.cli import main

if __name__ == "__main__":
    sys.exit(main())
