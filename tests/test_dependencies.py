"""pyproject.toml admits no version of a dependency with a published security advisory.

Each row: the package, the first version without the advisory, and the advisory. A floor below the
fixed version fails here, so the table and pyproject.toml move together (docs/deploy.md says how
to update both and the lock file).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot import paths

PYPROJECT = paths.PROJECT_ROOT / "pyproject.toml"

# package -> (first fixed version, advisory): the newest advisory for each package we know of
ADVISORIES: dict[str, tuple[str, str]] = {
    # sandbox breakout through |attr (editors' templates run in the sandbox); 3.1.5 fixed
    # GHSA-q2x7-8rv6-6q7h and GHSA-gmj6-6f8f-6699
    "jinja2": ("3.1.6", "GHSA-cpwx-vrp4-4pq7 (CVE-2025-27516)"),
    # request.form() limits ignored for urlencoded bodies (the console's forms); earlier:
    # GHSA-86qp-5c8j-p5mr (1.0.1), GHSA-7f5h-v6xp-fcq8 (0.49.1), GHSA-2c2j-9gv5-cj73 (0.47.2)
    "starlette": ("1.3.1", "GHSA-82w8-qh3p-5jfq (CVE-2026-54283)"),
    # negative Content-Length buffers the whole body; earlier: GHSA-5rvq-cxj2-64vf and
    # GHSA-6jv3-5f52-599m (0.0.30), GHSA-pp6c-gr5w-3c5g (0.0.27), GHSA-59g5-xgcq-4qw3 (0.0.18)
    "python-multipart": ("0.0.31", "GHSA-v9pg-7xvm-68hf"),
    # vulnerable OpenSSL statically linked into the wheels
    "cryptography": ("48.0.1", "GHSA-537c-gmf6-5ccf"),
    # CVE-2026-54273..54280 (GHSA-4fvr-rgm6-gqmc and others); 3.13.4 fixed CVE-2026-34513..34525
    "aiohttp": ("3.14.1", "GHSA-4fvr-rgm6-gqmc (CVE-2026-54273)"),
    # request smuggling through chunked trailers; h11 reaches us through httpx and uvicorn
    "h11": ("0.16.0", "GHSA-vqfr-h8mv-ghfj (CVE-2025-43859)"),
}


def requirements() -> dict[str, Requirement]:
    """The project's runtime dependencies by canonical name."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    parsed = (Requirement(line) for line in project["dependencies"])
    return {canonicalize_name(req.name): req for req in parsed}


def floor(specifier: SpecifierSet) -> Version | None:
    """The lowest version a specifier can admit, or None when it has no lower bound."""
    bounds = [Version(s.version) for s in specifier if s.operator in (">=", "~=", "==", ">")]
    return max(bounds, default=None)


@pytest.mark.parametrize("package", sorted(ADVISORIES))
def test_no_dependency_floor_admits_a_version_with_an_advisory(package: str) -> None:
    fixed, advisory = ADVISORIES[package]
    requirement = requirements().get(package)
    assert requirement is not None, f"{package} needs a floor in pyproject.toml ({advisory})"
    lowest = floor(requirement.specifier)
    assert lowest is not None and lowest >= Version(fixed), (
        f"{requirement} admits versions below {fixed} ({advisory})"
    )
    assert requirement.specifier.contains(fixed), f"{requirement} excludes the fixed {fixed}"


def test_the_floor_check_catches_an_old_floor() -> None:
    assert floor(SpecifierSet("~=3.1")) == Version("3.1")
    assert floor(SpecifierSet("<4")) is None
    assert floor(SpecifierSet(">=3.1.6,<4")) == Version("3.1.6")


# ---- the lock files: what `make` and the Dockerfile install ----

LOCK = paths.PROJECT_ROOT / "requirements.lock"
PROD_LOCK = paths.PROJECT_ROOT / "requirements-prod.lock"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


def pins(lock: Path) -> dict[str, Version]:
    """Package -> pinned version; every pin must carry at least one hash."""
    text = lock.read_text(encoding="utf-8")
    found: dict[str, Version] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = _PIN.match(block)
        if match is None:
            continue
        assert "--hash=sha256:" in block, f"{lock.name}: {match['name']} has no hash"
        found[canonicalize_name(match["name"])] = Version(match["version"])
    return found


def declared(*, dev: bool) -> list[Requirement]:
    """pyproject.toml's dependencies (and the dev extra) whose markers hold here."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + (project["optional-dependencies"]["dev"] if dev else [])
    reqs = [Requirement(line) for line in lines]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


@pytest.mark.parametrize(("lock", "dev"), [(LOCK, True), (PROD_LOCK, False)])
def test_the_lock_pins_every_declared_dependency_within_its_specifier(
    lock: Path, dev: bool
) -> None:
    locked = pins(lock)
    for requirement in declared(dev=dev):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{lock.name} lacks {name}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{lock.name} pins {name}=={locked[name]}, outside {requirement}: run `make lock`"
        )


def test_the_production_lock_is_the_runtime_part_of_the_lock_at_the_same_versions() -> None:
    locked, prod = pins(LOCK), pins(PROD_LOCK)
    assert {name: locked.get(name) for name in prod} == prod
    dev_only = {canonicalize_name(r.name) for r in declared(dev=True)} - {
        canonicalize_name(r.name) for r in declared(dev=False)
    }
    assert dev_only and not dev_only & set(prod), "dev tools in the production lock"


@pytest.mark.parametrize("lock", [LOCK, PROD_LOCK])
def test_no_locked_version_has_a_listed_advisory(lock: Path) -> None:
    locked = pins(lock)
    for package, (fixed, advisory) in ADVISORIES.items():
        assert package in locked, f"{lock.name} lacks {package}"
        assert locked[package] >= Version(fixed), f"{lock.name}: {package} ({advisory})"


def test_make_and_the_dockerfile_install_from_the_locks_with_hashes() -> None:
    makefile = (paths.PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    stamp = re.search(r"^\$\(STAMP\):(?P<prereqs>.*)$", makefile, re.MULTILINE)
    assert stamp is not None and "requirements.lock" in stamp["prereqs"].split()
    assert "pip install --quiet --require-hashes -r requirements.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    assert re.search(r"^lock:", makefile, re.MULTILINE), "no `make lock`"
    dockerfile = (paths.PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-prod.lock" in dockerfile
    assert "pip install --no-deps -e ." in dockerfile
