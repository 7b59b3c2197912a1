"""Notebook parameters: profiles (`smoke`, `default`, `paper`) and up-front validation.

Every notebook's `parameters` cell is its profile table, each setting written once with its comment:
`PROFILE = "default"`, `SEED = 0`, then `N_STEPS = per_profile(40, 2500, 80_000)` (one value per profile) or
`LR = 4e-4` (the same in every profile). A papermill `-p NAME value` overrides either. The next cell calls
`P = resolve_profile(globals())`; the checks raise `ParameterError` naming the bad parameter before any
compute starts.
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


def parameter_names(namespace: Mapping[str, Any]) -> list[str]:
    """The names the parameters cell defines: PROFILE and the ALL-CAPS names right after it (a namespace keeps the
    order in which its names were first defined; IPython's own `_` names are skipped)."""
    names = list(namespace)
    if "PROFILE" not in names:
        raise ParameterError("PROFILE", "the parameters cell must define PROFILE first")
    found = []
    for name in names[names.index("PROFILE"):]:
        if name.startswith("_"):
            continue
        if not name.isupper():
            break
        found.append(name)
    return found


def resolve_profile(namespace: Mapping[str, Any]) -> SimpleNamespace:
    """The parameters cell's settings for its PROFILE: a `per_profile(...)` setting takes the profile's value, any
    other value (one for every profile, or papermill's `-p NAME value`) is taken as it is. PROFILE and SEED are
    checked."""
    names = parameter_names(namespace)
    profile = namespace["PROFILE"]
    check_choice("PROFILE", profile, PROFILE_NAMES)
    check_int("SEED", namespace.get("SEED"), minimum=0)
    for name, setting in namespace.items():
        if isinstance(setting, PerProfile) and name not in names:
            raise ParameterError(name, "is not among the parameters cell's names (it was added after the kernel first "
                                 "ran that cell): restart the kernel and run the notebook from the top", setting)
    return SimpleNamespace(**{name: getattr(namespace[name], profile) if isinstance(namespace[name], PerProfile)
                              else namespace[name] for name in names})


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


def check_ints(name: str, values: Any, minimum: int | None = None, maximum: int | None = None,
               increasing: bool = False, at_least: int = 1) -> None:
    """`values` must be a list of at least `at_least` integers within [minimum, maximum] (each named `NAME[i]`),
    strictly increasing when `increasing`."""
    check_nonempty(name, values)
    for i, v in enumerate(values):
        check_int(f"{name}[{i}]", v, minimum, maximum)
    if len(values) < at_least:
        raise ParameterError(name, f"needs at least {at_least} values", values)
    if increasing and any(a >= b for a, b in zip(values, values[1:], strict=False)):
        raise ParameterError(name, "must be strictly increasing", values)


def check_interval(name: str, pair: Any, minimum: float | None = None, maximum: float | None = None) -> None:
    """`pair` must be (smallest, largest) with minimum <= smallest < largest <= maximum (either bound optional)."""
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ParameterError(name, "must be (smallest, largest)", pair)
    for end in pair:
        check_range(name, end, minimum, maximum)
    if not pair[0] < pair[1]:
        raise ParameterError(name, "must be (smallest, largest) with smallest < largest", pair)


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
