"""The companion for reading without running: every notebook with its stored outputs (nothing is re-run) and
REPORT.md rendered to static HTML with nbconvert, plus an index page linking them and the figures.

    python -m saelib.static_html [OUTPUT]    (`make html`: OUTPUT is build/html; open build/html/index.html)

The pages keep the repository's layout (index.html, REPORT.html, notebooks/<name>.html, figures/), so relative
links work from the files alone: a link to a rendered .ipynb or .md points at its .html page, and any other linked
file of the repository (the figures) is copied next to the pages. Nothing but a browser is needed to read them;
formulas are typeset by MathJax, which the pages load from a CDN (without a network they show as TeX).
"""

import argparse
import posixpath
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

import nbformat
from nbconvert import HTMLExporter

from saelib.paths import ROOT

# a relative href/src (no scheme, not a bare #anchor), its path and any #anchor or ?query after it
LINK = re.compile(r'\b(href|src)="([^"#?:]+)([#?][^"]*)?"')
HEADING = re.compile(r"^#\s+(.+)$", re.MULTILINE)
RENDERED_SUFFIXES = (".ipynb", ".md")


def title_of(markdown: str, fallback: str) -> str:
    """The first level-1 heading of `markdown`, else `fallback`."""
    match = HEADING.search(markdown)
    return match.group(1).strip() if match else fallback


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first level-1 heading in the notebook's markdown cells, else `fallback`."""
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    return title_of(text, fallback)


def html_page(nb: nbformat.NotebookNode, title: str) -> str:
    """One standalone page (JupyterLab's look) for a notebook, outputs as stored."""
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def markdown_page(markdown: str, title: str) -> str:
    """One standalone page for a Markdown text (rendered as a one-cell notebook, so it looks like the notebooks)."""
    return html_page(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown)]), title)


def html_name(source: str) -> str:
    """The page a rendered source becomes: notebooks/05_x.ipynb -> notebooks/05_x.html."""
    return PurePosixPath(source).with_suffix(".html").as_posix()


def linked_paths(html: str, page: str) -> list[str]:
    """Every relative link target in `html`, as a path from the site root (`page` is the page's own path)."""
    folder = PurePosixPath(page).parent
    return [posixpath.normpath(folder / m.group(2)) for m in LINK.finditer(html)]


def point_at_pages(html: str, page: str, rendered: set[str]) -> str:
    """Relative links in `html` (the page rendered from source `page`) to a source in `rendered` -> its .html."""
    folder = PurePosixPath(page).parent

    def swap(match: re.Match) -> str:
        attribute, target, rest = match.group(1), match.group(2), match.group(3) or ""
        if posixpath.normpath(folder / target) not in rendered:
            return match.group(0)
        return f'{attribute}="{html_name(target)}{rest}"'

    return LINK.sub(swap, html)


def index_markdown(title: str, report_title: str, notebooks: list[tuple[str, str]], figures: list[str]) -> str:
    """The index page: the report, then each notebook (source path, title) with the figures its number prefixes."""
    lines = [f"# {title}", "",
             "A static copy for reading: the notebooks with the outputs they were committed with (nothing re-run "
             "here), the claims report and the figures. `make html` regenerates it.", "",
             f"- [{report_title}](REPORT.html): every claim's verdict, with the number and the figure that decide it.",
             "", "## Notebooks", "", "| notebook | figures |", "|---|---|"]
    for source, title in notebooks:
        prefix = PurePosixPath(source).stem.split("_")[0] + "_"
        mine = [f for f in figures if PurePosixPath(f).name.startswith(prefix)]
        linked = ", ".join(f"[{PurePosixPath(f).stem}]({f})" for f in mine)
        lines.append(f"| [{title}]({html_name(source)}) | {linked} |")
    return "\n".join(lines) + "\n"


def render_site(source: Path, output: Path) -> list[str]:
    """Render `source`'s notebooks and REPORT.md, an index and the linked files into `output`; return the pages."""
    source, output = Path(source).resolve(), Path(output).resolve()
    notebooks = sorted(p.relative_to(source).as_posix() for p in source.glob("notebooks/[0-9][0-9]_*.ipynb"))
    figures = sorted(p.relative_to(source).as_posix() for p in source.glob("figures/*.png"))
    rendered = set(notebooks) | {"REPORT.md"}
    report = (source / "REPORT.md").read_text()
    pages = {"REPORT.md": markdown_page(report, title_of(report, "Claims report"))}
    titles = []
    for path in notebooks:
        nb = nbformat.read(source / path, as_version=4)
        titles.append((path, notebook_title(nb, PurePosixPath(path).stem)))
        pages[path] = html_page(nb, titles[-1][1])
    title = title_of((source / "README.md").read_text(), "SAE companion")
    index = index_markdown(title, title_of(report, "Claims report"), titles, figures)
    pages["index.md"] = markdown_page(index, title)
    for page, html in pages.items():
        html = point_at_pages(html, page, rendered)
        target = output / html_name(page)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html)
        for linked in linked_paths(html, html_name(page)):
            copy_into_site(source, output, linked)
    return sorted(html_name(page) for page in pages)


def copy_into_site(source: Path, output: Path, linked: str) -> None:
    """Copy the repository file `linked` (a path from the root) into the site, unless absent, outside or a page."""
    origin = source / linked
    if linked.startswith("..") or not origin.is_file() or (output / linked).exists():
        return
    (output / linked).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(origin, output / linked)


def broken_links(output: Path) -> list[str]:
    """'page -> target' for every relative link in the site's pages that does not resolve to a file in it."""
    output = Path(output)
    broken = []
    for page in sorted(output.rglob("*.html")):
        name = page.relative_to(output).as_posix()
        broken += [f"{name} -> {t}" for t in linked_paths(page.read_text(), name) if not (output / t).is_file()]
    return broken


def main(argv: list[str] | None = None) -> int:
    """Command line: render the committed notebooks and REPORT.md into OUTPUT, then check its links."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, nargs="?", default=ROOT / "build" / "html")
    args = parser.parse_args(argv)
    pages = render_site(ROOT, args.output)
    broken = broken_links(args.output)
    if broken:
        print("broken links:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 1
    print(f"{len(pages)} pages in {args.output}: open {args.output / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
