import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from saelib.plotting import save_figure, set_theme  # noqa: E402


def make_figure():
    set_theme()
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 3, 2])
    ax.set_xlabel("x (units)")
    return fig


def test_same_figure_gives_same_bytes(isolated_dirs):
    png = save_figure(make_figure(), "fig_a")
    first_png, first_svg = png.read_bytes(), png.with_suffix(".svg").read_bytes()
    save_figure(make_figure(), "fig_a")
    assert png.read_bytes() == first_png
    assert png.with_suffix(".svg").read_bytes() == first_svg
    assert b"Date" not in first_svg and b"matplotlib.org" not in first_png
    plt.close("all")


def test_bad_names_are_refused(isolated_dirs):
    with pytest.raises(ValueError, match="figure name"):
        save_figure(make_figure(), "../escape")
    plt.close("all")
