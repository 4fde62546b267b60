"""YAML data files (scenarios, profiles, the coverage list), read with libyaml when PyYAML was built with it.

The pure-Python reader took about 80 ms for the built-in catalogue, a third of what importing and starting the
simulator costs, and a user's test session pays it again for every scenario folder it loads. The C reader
parses the same documents into the same values (both follow YAML 1.1 safe loading) several times faster.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAMLError = yaml.YAMLError


def load_yaml(text: str) -> Any:
    """One YAML document, safely (no tags beyond the standard ones)."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader, the C one when present
