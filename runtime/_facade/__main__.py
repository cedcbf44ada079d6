"""``python -m hotbus``: the hotbus command."""

import sys

from hotbus.runtime._console.cli import main

sys.exit(main())
