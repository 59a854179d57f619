"""pydantic v2 models take boundcache's decorators as they take functools'
(contract 3.10): no configuration, and every feature behaves as it does with
functools after cached calls."""

import copy
import functools
import gc
import pickle
import weakref

import pytest

# No PyPy 8.0 wheel of pydantic-core (pyproject.toml, test extra).
pydantic = pytest.importorskip("pydantic")
from pydantic import BaseModel, ConfigDict, computed_field  # noqa: E402

import boundcache
from cores import released

DECORATORS = {
    "lru_cache": lambda f: boundcache.lru_cache(maxsize=8)(f),
    "bare lru_cache": boundcache.lru_cache,
    "cache": boundcache.cache,
    "cached_property": boundcache.cached_property,
}


@pytest.mark.parametrize("name", DECORATORS)
def test_model_defines_without_configuration(name):
    decorate = DECORATORS[name]

    class M(BaseModel):
        x: int

        @decorate
        def public(self):
            return [self.x]

        @decorate
        def _private(self):
            return [self.x]

    # Neither a field nor (for the underscore name) a private attribute.
    assert set(M.model_fields) == {"x"}
    assert M.__private_attributes__ == {}
    m = M(x=1)
    first = m.public if name == "cached_property" else m.public()
    again = m.public if name == "cached_property" else m.public()
    assert first == [1] and again is first
    assert M(x=1).model_dump() == {"x": 1}


def _models(mod, **config):
    """The same model written with `mod`'s decorators; registered at module
    level so that pickle finds it."""

    class Model(BaseModel):
        model_config = ConfigDict(**config)
        x: int
        y: str = "y"

        @mod.lru_cache(maxsize=None)
        def times(self, k):
            return [self.x * k]

        @mod.cache
        def _helper(self):
            return {"x": self.x}

        @mod.cached_property
        def listed(self):
            return [self.x]

    Model.__qualname__ = "Model"
    globals()["Model"] = Model
    return Model


def _observe(mod, config):
    """Everything a user sees of a model after cached calls, as plain data."""
    Model = _models(mod, **config)
    m, twin = Model(x=2), Model(x=2)
    m.listed  # noqa: B018
    try:  # functools.lru_cache needs a hashable instance (frozen models only)
        m.times(3)
        m._helper()
    except TypeError:
        assert mod is functools and not config.get("frozen")
    seen = {
        "dump": m.model_dump(),
        "json": m.model_dump_json(),
        "repr": repr(m),
        "eq": (m == twin, twin == m, m != Model(x=3)),
        "fields_set": m.model_fields_set,
        "extra": m.__pydantic_extra__,
        "private": m.__pydantic_private__,
        "validate": (Model.model_validate(m) == twin, Model.model_validate(m.model_dump()) == twin),
        "validate_json": Model.model_validate_json(m.model_dump_json()) == twin,
    }
    for label, other in [
        ("model_copy", m.model_copy()),
        ("model_copy_update", m.model_copy(update={"y": "z"})),
        ("copy", copy.copy(m)),
        ("deepcopy", copy.deepcopy(m)),
        ("pickle", pickle.loads(pickle.dumps(m))),
    ]:
        seen[label] = (other == m, other.model_dump(), other.model_fields_set, other.__pydantic_extra__)
    if config.get("frozen"):
        seen["hash"] = (hash(m) == hash(twin), len({m, twin}))
    return seen


CONFIGS = [{}, {"extra": "forbid"}, {"extra": "allow"}, {"frozen": True}, {"revalidate_instances": "always"}]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_model_features_as_with_functools(config):
    assert _observe(boundcache, config) == _observe(functools, config)


@pytest.mark.parametrize("extra", ["forbid", "allow", "ignore"])
def test_revalidation_sees_no_cache(extra):
    class Inner(BaseModel):
        model_config = ConfigDict(revalidate_instances="always", extra=extra)
        x: int

        @boundcache.cache
        def doubled(self):
            return [2 * self.x]

    class Outer(BaseModel):
        inner: Inner

    called, fresh = Inner(x=1), Inner(x=1)
    assert called.doubled() == [2]
    for validate in (Inner.model_validate, lambda v: Outer(inner=v).inner):
        again = validate(called)
        assert again == validate(fresh)
        assert again.model_dump() == {"x": 1}
        assert again.__pydantic_extra__ == ({} if extra == "allow" else None)
        assert again.model_fields_set == {"x"}
        # The revalidated copy is another instance: its cache starts empty.
        assert again.doubled() == [2] and again.doubled() is not called.doubled()


@pytest.mark.parametrize("extra", ["forbid", "allow", "ignore"])
def test_validated_assignment_sees_no_cache(extra):
    class M(BaseModel):
        model_config = ConfigDict(validate_assignment=True, extra=extra)
        x: int

        @boundcache.cache
        def doubled(self):
            return 2 * self.x

    m = M(x=1)
    m.doubled()
    m.x = 2
    assert m.model_dump() == {"x": 2}
    assert m.__pydantic_extra__ == ({} if extra == "allow" else None)


def test_strict_models_leave_no_trace_in_dict():
    class M(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: int

        @boundcache.cache
        def doubled(self):
            return 2 * self.x

    m = M(x=1)
    assert m.doubled() == 2
    assert vars(m) == {"x": 1}
    assert M.doubled.cache_info().currsize == 1


@pytest.mark.parametrize("return_type", [False, True])
def test_computed_field_over_cached_property(return_type):
    # pydantic recognises cached properties by isinstance(...,
    # functools.cached_property) and then reads the return annotation from
    # .func: boundcache's is a subclass, so the annotation is enough.
    calls = []
    decorate = computed_field(return_type=int) if return_type else computed_field

    class M(BaseModel):
        x: int

        @decorate
        @boundcache.cached_property
        def doubled(self) -> int:
            calls.append(1)
            return 2 * self.x

    m = M(x=2)
    assert m.model_dump() == {"x": 2, "doubled": 4}
    assert m.model_dump_json() == '{"x":2,"doubled":4}'
    assert m.doubled == 4 and len(calls) == 1
    assert M.model_json_schema(mode="serialization")["properties"]["doubled"] == {
        "readOnly": True,
        "title": "Doubled",
        "type": "integer",
    }


@pytest.mark.parametrize("mod", [functools, boundcache], ids=["functools", "boundcache"])
def test_private_computed_field_hidden_from_repr(mod):
    class M(BaseModel):
        x: int

        @computed_field
        @mod.cached_property
        def _secret(self) -> int:
            return 3

    m = M(x=1)
    assert repr(m) == "M(x=1)"
    assert m.model_dump() == {"x": 1, "_secret": 3}


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("mod", [functools, boundcache], ids=["functools", "boundcache"])
def test_cached_property_assignment_as_functools(mod, frozen):
    # pydantic writes a cached property's value straight into __dict__, even
    # on a frozen model.
    class M(BaseModel):
        model_config = ConfigDict(frozen=frozen)
        x: int

        @mod.cached_property
        def value(self):
            return [self.x]

    m = M(x=1)
    assert m.value == [1]
    m.value = [2]
    assert m.value == [2] and vars(m)["value"] == [2]
    del m.value
    assert m.value == [1]


@pytest.mark.parametrize("config", [{}, {"extra": "forbid"}, {"frozen": True}])
def test_models_freed_by_refcount(no_gc, config):
    class M(BaseModel):
        model_config = ConfigDict(**config)
        x: int

        @boundcache.cache
        def doubled(self):
            return [2 * self.x]

        @boundcache.cached_property
        def listed(self):
            return [self.x]

    m = M(x=1)
    m.doubled()
    m.listed  # noqa: B018
    ref = weakref.ref(m)
    del m
    released()
    assert ref() is None
    assert M.doubled.cache_info().currsize == 0


def test_strict_model_pinned_by_its_own_result_is_reported():
    # Weak-table owners (contract 3.5): a result that refers back keeps the
    # model alive, and audit() says so.
    class Node(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str

        @boundcache.cache
        def path(self):
            return [self]

    node = Node(name="a")
    node.path()
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is not None
    row = next(r for r in boundcache.audit() if r.qualname == Node.path.__qualname__)
    assert (row.kind, row.entries, row.pinned) == ("boundcache", 1, 1)
    Node.path.cache_clear()
    gc.collect()
    released()
    assert ref() is None


def test_strict_model_with_a_boundcache_slot_keeps_cycles_collectable():
    # The way out of the weak table (docs/methods.md): a __boundcache__ slot,
    # which pydantic does not read and the GC traverses.
    class Node(BaseModel):
        __slots__ = ("__boundcache__", "__weakref__")
        model_config = ConfigDict(extra="forbid", revalidate_instances="always")
        name: str

        @boundcache.cache
        def path(self):
            return [self]

    node = Node(name="a")
    assert node.path() == [node]
    assert vars(node) == {"name": "a"}
    assert Node.model_validate(node) == Node(name="a")
    ref = weakref.ref(node)
    del node
    gc.collect()
    released()
    assert ref() is None
