"""`python -m andon.connectors.standin ...`: the same as `andon odoo-standin ...`."""

import sys

from andon.connectors.standin.cli import main

raise SystemExit(main(sys.argv[1:]))
