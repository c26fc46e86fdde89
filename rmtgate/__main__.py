"""``python -m rmtgate``: the command line."""

import sys

from rmtgate.cli.main import main

sys.exit(main())
