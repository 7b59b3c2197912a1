"""The claims registry is read from saelib/claims.toml: complete, consistent, and the same ids as CLAIMS.md."""

import re

import pytest

from saelib.claims import CLAIMS, CLAIMS_FILE, NOTEBOOKS, POSTS, claims_of, read_claims_file
from saelib.paths import ROOT

SHARED_CLAIMS = ROOT.parent / "shared" / "CLAIMS.md"


def test_registry_is_complete_and_consistent():
    assert len(CLAIMS) == 29 and len(POSTS) == 5
    assert all(c.notebook in NOTEBOOKS and c.post in POSTS for c in CLAIMS.values())
    assert all(re.fullmatch(r"C0[1-5]\.\d", cid) for cid in CLAIMS)
    assert all(c.statement and c.setup for c in CLAIMS.values())
    assert NOTEBOOKS[0] == "00_target_model" and len(NOTEBOOKS) == 6


def test_claims_of_a_notebook_in_order():
    assert claims_of("02_sqrt_n_nonlinearity") == ["C02.1", "C02.2", "C02.3"]
    assert claims_of("00_target_model") == []


def test_every_notebook_cites_the_claims_file():
    for notebook in NOTEBOOKS[1:]:
        text = (ROOT / "notebooks" / f"{notebook}.ipynb").read_text()
        assert "claims.toml" in text, f"{notebook} does not cite saelib/claims.toml"


def test_a_claim_citing_an_unknown_post_is_rejected(tmp_path):
    bad = tmp_path / "claims.toml"
    bad.write_text(CLAIMS_FILE.read_text().replace('post = "004"', 'post = "009"', 1))
    with pytest.raises(ValueError, match="009"):
        read_claims_file(bad)


@pytest.mark.skipif(not SHARED_CLAIMS.exists(), reason="the project's shared/CLAIMS.md is not beside this clone")
def test_registry_ids_match_the_shared_claims_list():
    shared_ids = set(re.findall(r"^\| (C\d\d\.\d) \|", SHARED_CLAIMS.read_text(), flags=re.M))
    assert shared_ids == set(CLAIMS)
