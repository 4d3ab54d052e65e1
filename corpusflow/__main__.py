"""``python -m corpusflow ...`` = the ``corpusflow`` command."""

import sys

from corpusflow.cli import main

sys.exit(main())
