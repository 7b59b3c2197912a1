"""Notebook parameters: profiles (`smoke`, `default`, `paper`) and up-front validation.

Every notebook's `parameters` cell sets PROFILE and leaves each tunable parameter at None; `resolve_profile`
fills the Nones from the profile, so a papermill `-p NAME value` overrides the profile. The checks raise
`ParameterError` naming the bad parameter before any compute starts.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

PROFILE_NAMES = ("smoke", "default", "paper")


class ParameterError(ValueError):
    """A notebook parameter has a bad value; the message starts with its name."""

    def __init__(self, name: str, problem: str, value: Any = None):
        super().__init__(f"parameter {name}={value!r}: {problem}")
        self.name = name


def resolve_profile(profile: str, profiles: Mapping[str, Mapping[str, Any]], **overrides: Any) -> SimpleNamespace:
    """The profile's settings, with every override that is not None taking precedence."""
    check_choice("PROFILE", profile, PROFILE_NAMES)
    if profile not in profiles:
        raise ParameterError("PROFILE", f"this notebook defines no {profile!r} profile", profile)
    settings = dict(profiles[profile])
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ParameterError(unknown[0], f"not a setting of this notebook's profiles {sorted(settings)}")
    settings.update({name: value for name, value in overrides.items() if value is not None})
    return SimpleNamespace(PROFILE=profile, **settings)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """`value` must be one of `choices`."""
    choices = tuple(choices)
    if value not in choices:
        raise ParameterError(name, f"must be one of {list(choices)}", value)


def _check_number(name: str, value: Any) -> float:
    """`value` must be a finite real number (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(name, "must be a finite number", value)
    return float(value)


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> None:
    """`value` must be an integer within [minimum, maximum] (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(name, "must be an integer", value)
    check_range(name, value, minimum, maximum)


def check_range(name: str, value: Any, minimum: float | None = None, maximum: float | None = None) -> None:
    """`value` must be a finite number within [minimum, maximum] (either bound optional)."""
    number = _check_number(name, value)
    if minimum is not None and number < minimum:
        raise ParameterError(name, f"must be at least {minimum}", value)
    if maximum is not None and number > maximum:
        raise ParameterError(name, f"must be at most {maximum}", value)


def check_positive(name: str, value: Any) -> None:
    """`value` must be a finite number > 0."""
    if _check_number(name, value) <= 0:
        raise ParameterError(name, "must be > 0", value)


def check_open_unit(name: str, value: Any) -> None:
    """`value` must lie strictly between 0 and 1."""
    number = _check_number(name, value)
    if not 0 < number < 1:
        raise ParameterError(name, "must lie strictly between 0 and 1", value)


def check_probability(name: str, value: Any) -> None:
    """`value` must lie in [0, 1]."""
    check_range(name, value, 0.0, 1.0)


def check_nonempty(name: str, values: Sequence[Any]) -> None:
    """`values` must be a non-empty sequence."""
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
        raise ParameterError(name, "must be a non-empty list", values)
