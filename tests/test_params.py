import pytest

from saelib.params import (
    ParameterError,
    check_choice,
    check_int,
    check_kinds,
    check_nonempty,
    check_open_unit,
    check_positive,
    check_probability,
    check_range,
    per_profile,
    resolve_profile,
)


def test_profile_values_and_explicit_override():
    namespace = {"SEED": 3, "N": None, "LR": 0.5, "UNRELATED": 1}
    p = resolve_profile("default", namespace, N=per_profile(1, 10, 100), LR=0.01, GRID=(1, 2))
    assert vars(p) == {"PROFILE": "default", "SEED": 3, "N": 10, "LR": 0.5, "GRID": (1, 2)}
    assert resolve_profile("smoke", {}, N=per_profile(1, 10, 100)).N == 1


def test_unknown_profile_and_bad_seed_are_named():
    with pytest.raises(ParameterError, match="PROFILE"):
        resolve_profile("huge", {})
    with pytest.raises(ParameterError, match="SEED"):
        resolve_profile("smoke", {"SEED": -1})


@pytest.mark.parametrize("check, args", [
    (check_int, ("WIDTH", 0, 1)),
    (check_int, ("WIDTH", 2.5)),
    (check_int, ("WIDTH", True)),
    (check_range, ("FREQ", -0.1, 0.0)),
    (check_range, ("FREQ", float("nan"))),
    (check_positive, ("EPS", 0)),
    (check_open_unit, ("S_MIN", 1.0)),
    (check_probability, ("P", 1.5)),
    (check_choice, ("PENALTY", "cubic", ["abs", "squared"])),
    (check_nonempty, ("SWEEP", [])),
])
def test_bad_values_raise_naming_the_parameter(check, args):
    with pytest.raises(ParameterError) as error:
        check(*args)
    assert error.value.name == args[0]
    assert str(error.value).startswith(f"parameter {args[0]}=")


def test_good_values_pass():
    check_int("WIDTH", 3, 1, 10)
    check_range("FREQ", 0.5, 0, 1)
    check_positive("EPS", 0.2)
    check_open_unit("S_MIN", 1e-5)
    check_probability("P", 0.0)
    check_choice("PENALTY", "abs", ["abs"])
    check_nonempty("SWEEP", [1e-3])


def test_check_kinds_names_the_bad_setting_or_element():
    settings = resolve_profile("smoke", {}, STEPS=10, GRID=[0.1, 0.0], RATES=[0.5], EMPTY=[])
    check_kinds(settings, count="STEPS", probabilities="RATES GRID")
    with pytest.raises(ParameterError) as error:
        check_kinds(settings, positives="RATES GRID")
    assert error.value.name == "GRID[1]"
    with pytest.raises(ParameterError, match="EMPTY"):
        check_kinds(settings, counts="EMPTY")
    with pytest.raises(ParameterError, match="STEPS"):
        check_kinds(settings, open_unit="STEPS")
    with pytest.raises(ValueError, match="unknown parameter kind"):
        check_kinds(settings, even="STEPS")
