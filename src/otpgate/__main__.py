"""``python -m otpgate`` runs the command line."""

import sys

from otpgate.cli import main

sys.exit(main())
