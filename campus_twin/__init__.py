"""Top of the stack: the `campus-twin` CLI, the demo orchestration and dev helpers.

May import every layer, but only lazily inside command handlers, so that a gateway with
only `campus-twin[agent]` installed can run `campus-twin agent …`.
"""

from ops.version import package_version

__version__ = package_version()
