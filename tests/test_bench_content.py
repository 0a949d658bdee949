"""Content sets a scenario names (bench/suite/content.py): SET-SIZE names
built on first use by make_content.py (here its test double,
tests/bench_fixtures/make_content_double.py), into a directory of modules
with the manifest beside it."""
import os

import pytest

import bench_support  # noqa: F401  (puts bench/ on the path)
from suite import content

DOUBLE = os.path.join(os.path.dirname(__file__), "bench_fixtures", "make_content_double.py")


@pytest.fixture
def make_content_double(monkeypatch):
    monkeypatch.setattr(content, "MAKE_CONTENT", DOUBLE)


def test_a_set_and_a_size_make_a_buildable_name():
    assert content.buildable("typical-512M")
    assert content.buildable("libs-1G")


def test_other_names_are_not_built():
    assert not content.buildable("typical")
    assert not content.buildable("mine-512M")
    assert not content.buildable("typical-512")


def test_a_missing_buildable_set_is_built_into_a_directory_of_modules(tmp_path,
                                                                      make_content_double):
    files = content.ensure("typical-8K", str(tmp_path), log=lambda s: None)
    assert files == [str(tmp_path / "typical-8K" / "typical.img")]
    assert (tmp_path / "typical-8K" / "typical.img").read_bytes() == b"\x5a" * 8192
    assert (tmp_path / "typical-8K.manifest").exists()


def test_a_built_set_is_not_built_again(tmp_path, make_content_double):
    (tmp_path / "typical-8K").mkdir()
    (tmp_path / "typical-8K" / "typical.img").write_bytes(b"kept")
    files = content.ensure("typical-8K", str(tmp_path), log=lambda s: None)
    assert open(files[0], "rb").read() == b"kept"


def test_a_failed_build_says_why_and_leaves_nothing(tmp_path, monkeypatch, make_content_double):
    monkeypatch.setattr(content, "BUILDABLE_RE",
                        __import__("re").compile(r"^(fail)-(\d+[KMG])$"))
    with pytest.raises(content.ContentError, match="no files to take"):
        content.ensure("fail-8K", str(tmp_path), log=lambda s: None)
    assert os.listdir(tmp_path) == []


def test_a_buildable_name_passes_the_check_before_it_is_built(tmp_path):
    content.check("typical-512M", str(tmp_path))


def test_a_missing_set_that_cannot_be_built_fails_the_check(tmp_path):
    with pytest.raises(content.ContentError, match="content set 'mine' not found"):
        content.check("mine", str(tmp_path))
