"""`python -m ameide_secrets <verb>`: the same command line as the `ameide-secrets` script."""

import sys

from ameide_secrets.cli import main

sys.exit(main())
