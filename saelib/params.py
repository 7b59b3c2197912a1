"""Notebook parameters: profiles (`smoke`, `default`, `paper`) and up-front validation.

Every notebook's `parameters` cell sets PROFILE and SEED and leaves each tunable parameter at None;
`P = resolve_profile(PROFILE, globals(), NAME=per_profile(smoke, default, paper), OTHER=value, ...)` fills the Nones
from the profile (each setting written once), so a papermill `-p NAME value` overrides the profile. The checks
raise `ParameterError` naming the bad parameter before any compute starts.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

PROFILE_NAMES = ("smoke", "default", "paper")


class ParameterError(ValueError):
    """A notebook parameter has a bad value; the message starts with its name."""

    def __init__(self, name: str, problem: str, value: Any = None):
        super().__init__(f"parameter {name}={value!r}: {problem}")
        self.name = name


@dataclass(frozen=True)
class PerProfile:
    """A setting whose value depends on the profile."""

    smoke: Any
    default: Any
    paper: Any


def per_profile(smoke: Any, default: Any, paper: Any) -> PerProfile:
    """A setting with one value per profile (smoke, default, paper), written on one line."""
    return PerProfile(smoke, default, paper)


def resolve_profile(profile: str, namespace: Mapping[str, Any], **settings: Any) -> SimpleNamespace:
    """The notebook's settings for `profile`: each setting's profile value (a `per_profile(...)` or one value for
    every profile), overridden by the notebook variable of the same name in `namespace` when that is not None
    (papermill's `-p NAME value`). PROFILE and SEED are taken from the namespace and checked."""
    check_choice("PROFILE", profile, PROFILE_NAMES)
    seed = namespace.get("SEED", 0)
    check_int("SEED", seed, minimum=0)
    resolved = {}
    for name, setting in settings.items():
        chosen = getattr(setting, profile) if isinstance(setting, PerProfile) else setting
        override = namespace.get(name)
        resolved[name] = chosen if override is None else override
    return SimpleNamespace(PROFILE=profile, SEED=seed, **resolved)


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


def _each(check: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    """A check of every element of a non-empty list, each named `NAME[i]`."""
    def check_list(name: str, values: Any) -> None:
        check_nonempty(name, values)
        for i, v in enumerate(values):
            check(f"{name}[{i}]", v)
    return check_list


def check_count(name: str, value: Any) -> None:
    """`value` must be an integer >= 1."""
    check_int(name, value, minimum=1)


PARAMETER_KINDS = {
    "probability": check_probability, "open_unit": check_open_unit, "positive": check_positive,
    "count": check_count, "nonempty": check_nonempty, "probabilities": _each(check_probability),
    "open_units": _each(check_open_unit), "positives": _each(check_positive), "counts": _each(check_count),
}


def check_kinds(settings: SimpleNamespace, **kinds: str) -> None:
    """Check every named setting against its kind: `check_kinds(P, count="N_STEPS BATCH_SIZE", positives="L1_GRID")`
    (kinds: the keys of PARAMETER_KINDS; plural kinds check each element of a non-empty list)."""
    for kind, names in kinds.items():
        if kind not in PARAMETER_KINDS:
            raise ValueError(f"unknown parameter kind {kind!r}; known: {sorted(PARAMETER_KINDS)}")
        for name in names.split():
            PARAMETER_KINDS[kind](name, getattr(settings, name))
