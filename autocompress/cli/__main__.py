"""``python -m autocompress.cli``: the same command as the ``autocompress`` script."""

import sys

from autocompress.cli import main

sys.exit(main())
