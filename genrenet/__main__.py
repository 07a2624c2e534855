"""``python -m genrenet`` runs the command line."""

import sys

from genrenet.cli import main

sys.exit(main())
