import sys

from vitals.cli import main

sys.exit(main())
