"""`make html`: the committed notebooks and REPORT.md as static pages whose relative links all resolve."""

import nbformat

from saelib.paths import ROOT
from saelib.static_html import broken_links, linked_paths, notebook_title, point_at_pages, render_site, title_of


def test_links_to_rendered_sources_point_at_their_pages_and_the_rest_stay():
    html = ('<a href="notebooks/01_x.ipynb#Setup">n</a> <a href="figures/01_a.png">f</a> '
            '<a href="https://example.org/a.ipynb">web</a> <a href="#top">top</a> <a href="REPORT.md">r</a>')
    out = point_at_pages(html, "REPORT.md", {"notebooks/01_x.ipynb", "REPORT.md"})
    assert 'href="notebooks/01_x.html#Setup"' in out and 'href="REPORT.html"' in out
    assert 'href="figures/01_a.png"' in out and 'href="https://example.org/a.ipynb"' in out and 'href="#top"' in out
    assert point_at_pages('<a href="../REPORT.md">r</a>', "notebooks/01_x.ipynb", {"REPORT.md"}) == \
        '<a href="../REPORT.html">r</a>'


def test_linked_paths_are_relative_to_the_page_folder_and_skip_urls_and_anchors():
    html = '<img src="../figures/a.png"><a href="b.html#x">b</a><a href="http://x/y">u</a><a href="#z">z</a>'
    assert linked_paths(html, "notebooks/p.html") == ["figures/a.png", "notebooks/b.html"]


def test_titles_come_from_the_first_level_one_heading():
    assert title_of("intro\n## sub\n# The title\n# Another", "fallback") == "The title"
    assert title_of("no heading", "fallback") == "fallback"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# a comment"),
                                         nbformat.v4.new_markdown_cell("# 01 · Toys\ntext")])
    assert notebook_title(nb, "01_x") == "01 · Toys"


def make_repo(root, report: str):
    """A two-notebook repository: README, REPORT (text `report`), notebooks with a stored output, figures."""
    (root / "notebooks").mkdir(parents=True)
    (root / "figures").mkdir()
    (root / "README.md").write_text("# A companion\n")
    (root / "REPORT.md").write_text(report)
    for stem in ("00_model", "01_x"):
        cell = nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"},
                                                                                  execution_count=1)])
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {stem} title"), cell])
        nbformat.write(nb, root / "notebooks" / f"{stem}.ipynb")
        (root / "figures" / f"{stem}_fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def test_a_site_of_pages_whose_links_resolve(tmp_path):
    make_repo(tmp_path / "repo", "# Claims report\n\n| id | notebook | figure |\n|---|---|---|\n"
                                 "| C01.1 | [01_x](notebooks/01_x.ipynb) | [fig](figures/01_x_fig.png) |\n")
    pages = render_site(tmp_path / "repo", tmp_path / "site")
    assert pages == ["REPORT.html", "index.html", "notebooks/00_model.html", "notebooks/01_x.html"]
    site = tmp_path / "site"
    assert broken_links(site) == []
    assert (site / "figures" / "00_model_fig.png").is_file() and (site / "figures" / "01_x_fig.png").is_file()
    index = (site / "index.html").read_text()
    assert 'href="REPORT.html"' in index and 'href="notebooks/01_x.html"' in index and "01_x title" in index
    report = (site / "REPORT.html").read_text()
    assert 'href="notebooks/01_x.html"' in report and "<table" in report
    assert "2</pre>" in (site / "notebooks" / "01_x.html").read_text()  # the stored output, not re-run


def test_a_link_to_a_missing_file_is_reported(tmp_path):
    make_repo(tmp_path / "repo", "# Claims report\n\n[gone](figures/missing.png)\n")
    render_site(tmp_path / "repo", tmp_path / "site")
    assert broken_links(tmp_path / "site") == ["REPORT.html -> figures/missing.png"]


def test_the_committed_notebooks_and_report_render_with_every_link_resolving(tmp_path):
    pages = render_site(ROOT, tmp_path)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert {f"notebooks/{p.stem}.html" for p in notebooks} | {"index.html", "REPORT.html"} == set(pages)
    assert broken_links(tmp_path) == []
    index = (tmp_path / "index.html").read_text()
    assert all(f'href="notebooks/{p.stem}.html"' in index for p in notebooks)
