"""``python -m hotbus``: the hotbus command."""

import sys

from hotbus.runtime._cli import main

sys.exit(main())
