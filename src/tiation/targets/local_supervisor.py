"""Launch path of a local instance's supervisor: `python -m tiation.targets.local_supervisor`.

The supervisor lives in `tiation.targets.local.supervisor`. This module path stays because running supervisors are
recognised by it in their command line (`record_alive`), including supervisors started by an earlier version.
"""

import sys

from tiation.targets.local.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
