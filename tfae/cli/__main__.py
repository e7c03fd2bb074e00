"""``python -m tfae.cli``: the ``tfae`` command."""

import sys

from tfae.cli.commands import main

sys.exit(main())
