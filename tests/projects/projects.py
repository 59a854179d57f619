"""The real projects whose own test suites run with and without
``BOUNDCACHE_PATCH=1`` (run.py), pinned: the project, where its tests come
from, what its suite needs, and the pytest arguments.

``source`` is ``"pypi"`` (the sdist, which must hold the tests) or
``"debian:SUITE"`` (the Debian source package's upstream tarball, for
projects whose sdists leave the tests out). ``ci`` is the part that
``.ci/run`` runs (None: the whole suite), chosen to fit its time budget.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Project:
    name: str  # the distribution's name
    version: str
    source: str = "pypi"
    test_requires: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()  # after the options run.py gives
    ci: tuple[str, ...] | None = None  # test paths or -k expressions for .ci/run


PYTEST = "pytest==8.4.2"
HYPOTHESIS = "hypothesis==6.140.2"

PROJECTS = {
    p.name: p
    for p in (
        Project(
            "rich",
            "13.3.1",
            source="debian:bookworm",  # rich's sdists carry no tests
            test_requires=(PYTEST, "attrs==25.4.0"),
            pytest_args=("tests",),
            ci=("tests",),
        ),
        Project(
            "attrs",
            "26.1.0",
            test_requires=(PYTEST, HYPOTHESIS, "pympler==1.1", "cloudpickle==3.1.1"),
            pytest_args=("tests",),
            ci=("tests/test_slots.py", "tests/test_make.py", "tests/test_functional.py"),
        ),
        Project(
            "jinja2",
            "3.1.6",
            test_requires=(PYTEST, "trio==0.31.0"),
            pytest_args=("tests",),
            ci=("tests",),
        ),
        Project(
            "markdown-it-py",
            "4.3.0",
            test_requires=(PYTEST, "pytest-regressions==2.8.3", "pytest-timeout==2.4.0", "requests==2.32.5",
                           "flit_core==3.12.0"),
            pytest_args=("tests",),
            ci=("tests",),
        ),
        Project(
            "packaging",
            "26.4",
            test_requires=(PYTEST, HYPOTHESIS, "pretend==1.0.9", "tomli_w==1.2.0", "pip==25.2"),
            pytest_args=("tests",),
            # not test_version.py: 51,524 of its 64,207 tests, 80 s a run
            ci=("tests/test_specifiers.py", "tests/test_markers.py", "tests/test_tags.py", "tests/test_metadata.py",
                "tests/test_utils.py"),
        ),
        Project(
            "astroid",
            "4.4.0",
            test_requires=(PYTEST, "attrs==25.4.0", "python-dateutil==2.9.0.post0", "regex==2025.9.18",
                           "setuptools==80.9.0", "six==1.17.0", "typing-extensions==4.15.0", "urllib3==1.26.20"),
            pytest_args=("tests",),
            ci=("tests/test_scoped_nodes.py", "tests/test_lookup.py"),  # not test_manager.py: 21 s of CPU a run
        ),
    )
}
