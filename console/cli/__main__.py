"""`python -m console.cli`: the same as the `deskgate` console script."""

import sys

from console.cli import main

sys.exit(main())
