from types import SimpleNamespace

import pytest

from saelib.params import (
    ParameterError,
    check_choice,
    check_int,
    check_interval,
    check_ints,
    check_kinds,
    check_nonempty,
    check_open_unit,
    check_positive,
    check_probability,
    check_range,
    parameter_names,
    per_profile,
    resolve_profile,
)

PARAMETERS_CELL = '''
from saelib.params import per_profile
PROFILE = "default"  # smoke | default | paper
SEED = 3
N = per_profile(1, 10, 100)  # one value per profile
LR = 0.01  # the same in every profile
GRID = per_profile([1], [1, 2], [1, 2, 3])
'''


def parameters_cell_namespace(**overrides) -> dict:
    """A namespace as a kernel leaves it: IPython's names, the parameters cell, papermill's overrides, later cells."""
    namespace = {"__name__": "__main__", "In": [], "_ih": [], "_i1": ""}
    exec(PARAMETERS_CELL, namespace)
    namespace |= {"_i2": "", **overrides, "_i3": "", "np": None, "HIDDEN_LATER": 5}
    return namespace


def test_parameter_names_are_the_parameters_cells_in_order():
    assert parameter_names(parameters_cell_namespace()) == ["PROFILE", "SEED", "N", "LR", "GRID"]
    assert parameter_names(parameters_cell_namespace(EXTRA=1)) == ["PROFILE", "SEED", "N", "LR", "GRID", "EXTRA"]
    with pytest.raises(ParameterError, match="PROFILE"):
        parameter_names({"SEED": 0})


def test_profile_values_and_explicit_override():
    assert vars(resolve_profile(parameters_cell_namespace())) == {
        "PROFILE": "default", "SEED": 3, "N": 10, "LR": 0.01, "GRID": [1, 2]}
    smoke = resolve_profile(parameters_cell_namespace(PROFILE="smoke", LR=0.5, GRID=[7]))
    assert (smoke.N, smoke.LR, smoke.GRID) == (1, 0.5, [7])


def test_a_per_profile_setting_outside_the_parameters_cell_is_refused():
    with pytest.raises(ParameterError, match="LATE"):
        resolve_profile(parameters_cell_namespace() | {"LATE": per_profile(1, 2, 3)})


def test_unknown_profile_and_bad_seed_are_named():
    with pytest.raises(ParameterError, match="PROFILE"):
        resolve_profile(parameters_cell_namespace(PROFILE="huge"))
    with pytest.raises(ParameterError, match="SEED"):
        resolve_profile(parameters_cell_namespace(SEED=-1))


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
    settings = SimpleNamespace(STEPS=10, GRID=[0.1, 0.0], RATES=[0.5], EMPTY=[])
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


def test_check_ints_names_the_bad_element_order_and_length():
    check_ints("WIDTHS", [2, 3, 5], minimum=1, maximum=5, increasing=True, at_least=2)
    for values, name, minimum in (([2, 0], "WIDTHS[1]", 1), ([2, 2.5], "WIDTHS[1]", 1), ([], "WIDTHS", 1)):
        with pytest.raises(ParameterError) as error:
            check_ints("WIDTHS", values, minimum=minimum)
        assert error.value.name == name
    with pytest.raises(ParameterError, match="increasing"):
        check_ints("WIDTHS", [3, 3], increasing=True)
    with pytest.raises(ParameterError, match="at least 2"):
        check_ints("WIDTHS", [3], at_least=2)


def test_check_interval():
    check_interval("RANGE", (0.1, 100.0), minimum=0)
    for pair in ((1, 1), (2, 1), (1,), "ab", (-1, 2)):
        with pytest.raises(ParameterError, match="RANGE"):
            check_interval("RANGE", pair, minimum=0)
