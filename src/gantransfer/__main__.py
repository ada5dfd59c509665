"""``python -m gantransfer`` (and ``torchrun -m gantransfer``): the command line."""
import sys

from gantransfer.cli import main

sys.exit(main())
