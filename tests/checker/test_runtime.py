"""Fixed code runs, and no longer pins instances.

`test_corpus_pins_before_fix` shows each runtime case really has the trap
(functools keeps the instances alive); `test_fixed_corpus_no_longer_pins`
runs the same code after --fix against the installed boundcache.  The
latter needs boundcache's real core (lru_cache, cache).
"""

from __future__ import annotations

import gc
import importlib.util
import weakref

import pytest
from cores import released

from boundcache.checker import check_source, fix_source

from checker_helpers import CORPUS_FILES, has_make

RUNTIME_CASES = [p for p in CORPUS_FILES if has_make(p)]


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alive_after_last_reference_dropped(module) -> list[bool]:
    # With the collector off, only reference counting can free an instance:
    # a weakref that stays alive means something strongly holds it.
    gc.collect()
    gc.disable()
    try:
        instances = module.make()
        assert instances
        refs = [weakref.ref(obj) for obj in instances]
        # Their classes live on, as an application's do: a class made in a
        # function and dropped with its instances is garbage with functools'
        # cache, which a collection frees (PyPy's, in released()).
        classes = [type(obj) for obj in instances]
        del instances
        released()  # where there is no reference counting (PyPy), collections
        alive = [ref() is not None for ref in refs]
        del classes
        return alive
    finally:
        gc.enable()


def test_there_are_runtime_cases():
    assert len(RUNTIME_CASES) >= 10


@pytest.mark.parametrize("path", RUNTIME_CASES, ids=lambda p: p.stem)
def test_corpus_pins_before_fix(path):
    module = load(path, f"_boundcache_corpus_before_{path.stem}")
    assert all(alive_after_last_reference_dropped(module))


@pytest.mark.parametrize("path", RUNTIME_CASES, ids=lambda p: p.stem)
def test_fixed_corpus_no_longer_pins(path, tmp_path):
    import boundcache

    source = path.read_text(encoding="utf-8")
    fixed = fix_source(source, check_source(source, str(path))).source
    assert "import boundcache\n" in fixed
    target = tmp_path / path.name
    target.write_text(fixed, encoding="utf-8")
    compile(fixed, str(target), "exec")
    if not hasattr(boundcache, "lru_cache"):
        pytest.fail("the installed boundcache has no lru_cache yet (the C++ core is not merged)")
    module = load(target, f"_boundcache_corpus_after_{path.stem}")
    assert not any(alive_after_last_reference_dropped(module))
