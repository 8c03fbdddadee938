"""``python -m image_tasks.audit``: see `image_tasks.audit.cli`."""

import sys

from .cli import main

sys.exit(main())
