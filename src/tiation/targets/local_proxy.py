"""Launch path of the per-service TCP proxy: `python -m tiation.targets.local_proxy`.

The proxy lives in `tiation.targets.proxied.proxy`. This module path stays because running proxies are recognised
by it in their command line (`record_alive`), including proxies started by an earlier version of tiation.
"""

import sys

from tiation.targets.proxied.proxy import main

if __name__ == "__main__":
    sys.exit(main())
