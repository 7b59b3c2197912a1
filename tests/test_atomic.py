import json

import pytest

from saelib.atomic import atomic_dir, atomic_write, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_content(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "new")
    assert path.read_text() == "new"


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def half_write(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_write)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_json_rejects_nan(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "x.json", {"v": float("nan")})
    assert not (tmp_path / "x.json").exists()
    atomic_write_json(tmp_path / "x.json", {"b": 1, "a": 2})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2, "b": 1}


def test_atomic_dir_replaces_whole_folder(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "old.txt").write_text("old")
    with atomic_dir(folder) as staging:
        (staging / "new.txt").write_text("new")
        assert not (folder / "new.txt").exists()  # nothing visible until the block ends
    assert [p.name for p in folder.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_interrupted_atomic_dir_keeps_old_folder(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_dir(folder) as staging:
        (staging / "half.txt").write_text("half")
        raise KeyboardInterrupt
    assert [p.name for p in folder.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
