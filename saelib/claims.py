"""The claims this companion tests and the posts they come from, read from `saelib/claims.toml` (the one place
they are written down; the notebooks cite it)."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

CLAIMS_FILE: Path = Path(__file__).with_name("claims.toml")


@dataclass(frozen=True)
class Post:
    """A source post: title, author(s), where to read it."""

    key: str
    title: str
    author: str
    link: str


@dataclass(frozen=True)
class Claim:
    """One claim: its stable id, the notebook that tests it, its source post, the claim and its setup."""

    id: str
    notebook: str
    post: str
    statement: str
    setup: str


def read_claims_file(path: Path = CLAIMS_FILE) -> tuple[dict[str, Post], dict[str, Claim]]:
    """The posts and claims of a claims TOML file, in file order."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    posts = {key: Post(key, **fields) for key, fields in data["posts"].items()}
    claims = {cid: Claim(cid, f["notebook"], f["post"], f["claim"], f["setup"]) for cid, f in data["claims"].items()}
    unknown = sorted({c.post for c in claims.values()} - set(posts))
    if unknown:
        raise ValueError(f"{Path(path).name}: claims cite posts that are not listed: {unknown}")
    return posts, claims


POSTS, CLAIMS = read_claims_file()
NOTEBOOKS: tuple[str, ...] = ("00_target_model", *sorted({c.notebook for c in CLAIMS.values()}))


def claims_of(notebook: str) -> list[str]:
    """The ids of the claims a notebook tests, in order."""
    return [cid for cid, claim in CLAIMS.items() if claim.notebook == notebook]
