"""Hypothesis settings for the stateful tests, by profile.

The default profile keeps each state machine to a few seconds; set
``WSPROTO_STATEFUL=long`` (or ``ci``) for a longer search, e.g.::

    WSPROTO_STATEFUL=long .nox/tests/bin/pytest tests/test_stateful_core.py -p no:cacheprovider
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "stateful-default",
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # No "explain" phase: on Python < 3.12 it traces every line, which makes
    # a failing state machine take minutes to report.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile(
    "stateful-long",
    max_examples=500,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # No "explain" phase: on Python < 3.12 it traces every line, which makes
    # a failing state machine take minutes to report.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)

PROFILE = os.environ.get("WSPROTO_STATEFUL", "default")


def stateful_settings(scale: float = 1.0) -> settings:
    """The settings of the chosen profile, with ``max_examples`` scaled for slow machines."""
    base = settings.get_profile(f"stateful-{PROFILE}")
    return settings(base, max_examples=max(1, int(base.max_examples * scale)))
