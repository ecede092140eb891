"""Hypothesis profiles for the fuzz tests.

- `ci` (the default): derandomised, 60 examples per property, so `make test`
  stays fast (the folder takes about 30 s on 2 cores) and a failure reproduces
  on every run and every machine.
- `long` (`HYPOTHESIS_PROFILE=long`, what `make test-all` selects): 500
  examples per property, drawn at random each run; a failure prints the blob
  that replays it (`@reproduce_failure`).

No example database is written: the derandomised profile does not need one, and
the shrunk failures worth keeping are plain regression tests beside each
property.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,  # the CPUs are shared: a slow example is not a failure
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

settings.register_profile("ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=500, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
