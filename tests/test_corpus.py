import sysconfig
from pathlib import Path

import numpy as np
import pytest

from saelib import corpus


def test_stdlib_files_are_sorted_and_exclude_tests():
    root = Path(sysconfig.get_paths()["stdlib"])
    relative = [p.relative_to(root) for p in corpus.stdlib_source_files()]
    assert len(relative) > 100
    assert not any({"test", "tests", "idle_test", "site-packages"} & set(p.parts) for p in relative)
    assert [p.as_posix() for p in relative] == sorted(p.as_posix() for p in relative)
    assert Path("os.py") in relative


def test_stdlib_files_from_a_constructed_tree(tmp_path):
    for name in ["b.py", "a/z.py", "a/test/t.py", "tests/u.py", "c.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    found = [p.relative_to(tmp_path).as_posix() for p in corpus.stdlib_source_files(tmp_path)]
    assert found == ["a/z.py", "b.py"]


def test_corpus_is_deterministic_and_capped():
    a, b = corpus.stdlib_corpus(50_000), corpus.stdlib_corpus(50_000)
    assert a.sha256 == b.sha256 and len(a.data) == 50_000 and a.data.dtype == np.uint8
    assert corpus.stdlib_corpus(60_000).sha256 != a.sha256


def test_token_windows_and_split():
    windows = corpus.token_windows(np.arange(1000), 128)
    assert windows.shape == (7, 128) and windows[1, 0] == 128
    train, val = corpus.train_val_split(windows, 0.3, seed=0)
    assert len(train) + len(val) == 7 and len(val) == 2
    assert not set(map(tuple, train)) & set(map(tuple, val))
    again, _ = corpus.train_val_split(windows, 0.3, seed=0)
    assert np.array_equal(train, again)
    with pytest.raises(ValueError):
        corpus.token_windows(np.arange(10), 128)


def test_unigram_cross_entropy_matches_brute_force():
    train, test = np.array([0, 0, 1, 2]), np.array([0, 1])
    probs = (np.array([2, 1, 1, 0]) + 1) / 8
    expected = -(np.log(probs[0]) + np.log(probs[1])) / 2
    assert corpus.unigram_cross_entropy(train, test, 4) == pytest.approx(expected)


def test_decode_bytes_round_trip():
    assert corpus.decode_bytes(list("déf".encode())) == "déf"


def test_local_hugging_face_dataset_and_tokenize(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("first line\nsecond line\n")
    texts = corpus.load_text_dataset("text", data_files=str(path))
    assert texts == ["first line", "second line"]
    stream = corpus.tokenize_texts(texts, lambda t: [len(t)], separator=[-1])
    assert stream.tolist() == [10, -1, 11, -1]
    with pytest.raises(ValueError, match="text_column"):
        corpus.load_text_dataset("text", data_files=str(path), text_column="body")
