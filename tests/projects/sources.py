"""A project's source tree with its tests: the sdist from PyPI (through pip),
or the upstream tarball of a Debian source package (through apt-get, with a
configuration of its own: the machine's apt settings are not touched). Both
are kept in the cache directory and reused."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tarfile

from projects import Project


def source_tree(project: Project, cache: str) -> str:
    """The directory holding the project's source and tests, extracted once."""
    tree = os.path.join(cache, "src", f"{project.name}-{project.version}")
    if os.path.isdir(tree):
        return tree
    downloads = os.path.join(cache, "downloads")
    os.makedirs(downloads, exist_ok=True)
    if project.source == "pypi":
        archive = _sdist(project, downloads)
    elif project.source.startswith("debian:"):
        archive = _debian_orig(project, project.source.partition(":")[2], cache, downloads)
    else:
        raise SystemExit(f"{project.name}: unknown source {project.source!r}")
    _extract(archive, tree)
    return tree


def _sdist(project: Project, downloads: str) -> str:
    found = _find(downloads, project.name, project.version, ".tar.gz")
    if found:
        return found
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
          f"{project.name}=={project.version}", "-d", downloads])
    found = _find(downloads, project.name, project.version, ".tar.gz")
    if not found:
        raise SystemExit(f"{project.name} {project.version}: pip downloaded no sdist")
    return found


def _debian_orig(project: Project, suite: str, cache: str, downloads: str) -> str:
    found = _find(downloads, project.name, project.version, ".orig.tar.*", sep="_")
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise SystemExit(f"{project.name}: its tests come from Debian's source package; apt-get is needed")
    uri, keyring = _mirror()
    apt = os.path.join(cache, "apt")
    for d in ("lists/partial", "archives/partial", "parts"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    signed = f" [signed-by={keyring}]" if keyring else ""
    with open(os.path.join(apt, "sources.list"), "w") as f:
        f.write(f"deb-src{signed} {uri} {suite} main\n")
    options = [
        "-o", f"Dir::Etc::SourceList={apt}/sources.list", "-o", f"Dir::Etc::SourceParts={apt}/parts",
        "-o", f"Dir::State::Lists={apt}/lists", "-o", f"Dir::Cache={apt}",
        "-o", "Acquire::Check-Valid-Until=false", "-qq",
    ]  # fmt: skip
    _run(["apt-get", *options, "update"])
    _run(["apt-get", *options, "--download-only", "source", project.name], cwd=downloads)
    found = _find(downloads, project.name, project.version, ".orig.tar.*", sep="_")
    if not found:
        got = sorted(os.path.basename(p) for p in glob.glob(os.path.join(downloads, f"{project.name}_*")))
        raise SystemExit(f"{project.name}: Debian {suite} does not have {project.version} (got {got})")
    return found


def _mirror() -> tuple[str, str | None]:
    """The Debian archive this machine's apt uses (not the security one), and its keyring."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        fields: dict[str, str] = {}
        with open(path) as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and not line.startswith((" ", "#")):
                    fields[key.strip()] = value.strip()
                if not line.strip() and fields:
                    uri = next((u for u in fields.get("URIs", "").split() if "-security" not in u), None)
                    if uri and "deb" in fields.get("Types", "").split():
                        return uri, fields.get("Signed-By")
                    fields = {}
        uri = next((u for u in fields.get("URIs", "").split() if "-security" not in u), None)
        if uri:
            return uri, fields.get("Signed-By")
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        if os.path.isfile(path):
            with open(path) as f:
                for line in f:
                    words = line.split()
                    if words[:1] == ["deb"]:
                        uri = next((w for w in words[1:] if "://" in w), None)
                        if uri and "-security" not in uri:
                            return uri, None
    raise SystemExit("no Debian archive in this machine's apt sources")


def _find(directory: str, name: str, version: str, suffix: str, sep: str = "-") -> str | None:
    stems = {name, name.replace("-", "_"), name.lower(), name.replace("-", "_").lower()}
    for stem in stems:
        hits = glob.glob(os.path.join(directory, f"{stem}{sep}{version}{suffix}"))
        if hits:
            return hits[0]
    return None


def _extract(archive: str, tree: str) -> None:
    tmp = tree + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(tmp, filter="data")
        else:  # pragma: no cover - Python before 3.10.12
            tar.extractall(tmp)
    entries = os.listdir(tmp)
    top = os.path.join(tmp, entries[0]) if len(entries) == 1 else tmp
    os.replace(top, tree)
    shutil.rmtree(tmp, ignore_errors=True)


def _run(cmd: list[str], cwd: str | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
