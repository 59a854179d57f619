"""[tool.boundcache]: extend-decorators, exclude, discovery, and errors."""

from __future__ import annotations

import pytest

from boundcache import _pyproject
from boundcache.checker.config import Config, ConfigError, _mini_table, discover, load

from checker_helpers import CORPUS

CACHETOOLS = (
    "import cachetools.func\nclass A:\n    @cachetools.func.lru_cache(maxsize=3)\n    def m(self): pass\n"
)


def test_extend_decorators_reports_third_party_memoizers(run, tmp_path):
    (tmp_path / "a.py").write_text(CACHETOOLS)
    assert run(tmp_path) == (0, "", "")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.boundcache]\nextend-decorators = [\n'
        '    "cachetools.func.lru_cache",  # comment\n]\n'
    )
    code, out, _ = run(tmp_path)
    assert code == 1
    assert out.splitlines() == [
        f"{tmp_path / 'a.py'}:3:6: BC001 cachetools.func.lru_cache on method A.m keeps every "
        "instance it is called on alive (its cache is keyed on self)"
    ]


def test_corpus_third_party_case_with_configuration(tmp_path):
    from boundcache.checker import check_source

    path = CORPUS / "third_party.py"
    memoizers = Config(extend_decorators=("cachetools.func.lru_cache",)).memoizers
    assert [f.line for f in check_source(path.read_text(), str(path), memoizers)] == [7, 11]


def test_exclude_patterns_are_relative_to_the_pyproject(run, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.boundcache]\nexclude = ["generated", "src/legacy_*.py"]\n')
    trap = "import functools\nclass A:\n    @functools.cache\n    def m(self): pass\n"
    for relative in ("src/generated/a.py", "src/legacy_one.py", "src/kept.py", "generated/b.py"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(trap)
    code, out, _ = run(tmp_path / "src")  # discovery climbs from src/ to the pyproject
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == [str(tmp_path / "src" / "kept.py")]
    # A file named on the command line is checked even if excluded.
    assert run(tmp_path / "src" / "legacy_one.py")[0] == 1


def test_nearest_pyproject_with_our_table_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.boundcache]\nextend-decorators = ["outer.memo"]\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "not ours"\n')  # no table: skipped
    assert discover([str(inner)]).extend_decorators == ("outer.memo",)
    assert discover([str(inner)]).root == str(tmp_path)


def test_no_pyproject_means_defaults(tmp_path):
    config = discover([str(tmp_path)])
    assert config.extend_decorators == () and config.exclude == ()


def test_explicit_config_file(run, tmp_path):
    custom = tmp_path / "custom.toml"
    custom.write_text('[tool.boundcache]\nextend-decorators = ["cachetools.func.lru_cache"]\n')
    (tmp_path / "a.py").write_text(CACHETOOLS)
    assert run("--config", custom, tmp_path)[0] == 1
    code, _, err = run("--config", tmp_path / "nope.toml", tmp_path)
    assert code == 2 and "nope.toml: no such file" in err


@pytest.mark.parametrize(
    "text, message",
    [
        ('[tool.boundcache]\nextend-decorator = ["a.b"]\n', "unknown key 'extend-decorator'"),
        ('[tool.boundcache]\nexclude = "build"\n', "exclude must be a list of strings"),
        ('[tool.boundcache]\nextend-decorators = [1]\n', "extend-decorators must be a list of strings"),
        ('[tool.boundcache]\nextend-decorators = ["not a name"]\n', "is not a qualified name"),
        ('[tool.boundcache]\nexclude = [\n', "invalid TOML"),
        ('[tool]\nboundcache = 3\n', "[tool.boundcache] must be a table"),
    ],
)
def test_bad_configuration_is_a_clear_error(run, tmp_path, text, message):
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(str(tmp_path / "pyproject.toml"))
    code, out, err = run(tmp_path)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_an_unrelated_broken_pyproject_is_not_parsed(tmp_path):
    (tmp_path / "pyproject.toml").write_text("this is [ not toml")
    assert discover([str(tmp_path)]).source is None


# The reader used on Python 3.10 without tomli: tested on every version.

def test_mini_reader_reads_our_table():
    text = (
        '[project]\nname = "x"\nexclude = ["not ours"]\n'
        "[tool.boundcache]  # ours\n"
        'extend-decorators = ["a.b", \'c.d\']\n'
        'exclude = [\n  "build",  # why\n  "x\\\\y",\n  "\\u00e9",\n]\n'
        "[tool.other]\nexclude = ['no']\n"
    )
    assert _mini_table(text, "p") == {
        "extend-decorators": ["a.b", "c.d"],
        "exclude": ["build", "x\\y", "\u00e9"],
    }
    assert _mini_table('[project]\nname = "x"\n', "p") is None


@pytest.mark.parametrize("text", [
    "[tool.boundcache]\nexclude = [\n",
    "[tool.boundcache]\nexclude = ['a' 'b']\n",
    "[tool.boundcache]\nexclude\n",
    "[tool.boundcache]\nexclude = {a = 1}\n",
    "[tool.boundcache]\nexclude = ['a']\nexclude = ['b']\n",
])
def test_mini_reader_rejects_what_it_cannot_read(text):
    with pytest.raises(ConfigError, match="invalid TOML"):
        _mini_table(text, "p")


def test_mini_reader_is_what_310_uses_without_tomli(monkeypatch, tmp_path):
    monkeypatch.setattr(_pyproject, "_toml", None)
    (tmp_path / "pyproject.toml").write_text('[tool.boundcache]\nextend-decorators = ["m.memo"]\n')
    assert load(str(tmp_path / "pyproject.toml")).extend_decorators == ("m.memo",)
