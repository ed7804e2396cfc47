"""`python -m runner.server`: the same as `wsrun serve`."""

import sys

from runner.server.main import serve_main

sys.exit(serve_main())
