"""Benchmarks of the simulator and the harness, each beside a baseline measured in the same run.

Run from the repository root: `python -m benchmarks.run_all` (all, writing reports/benchmarks.json),
or one of `python -m benchmarks.throughput | scale | harness_speed`. See benchmarks/README.md.
"""

import contextlib as _contextlib
import warnings as _warnings

with _contextlib.suppress(ImportError):  # authlib (under cozepy) forces its warning to "always"; quiet it after
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401
_warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")
