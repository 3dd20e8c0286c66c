"""`python -m installation` is the same as the `installation` command."""

import sys

from installation.cli import main

sys.exit(main())
