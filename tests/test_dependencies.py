"""pyproject.toml admits no version of a dependency with a published security advisory.

Each row: the package, the first version without the advisory, and the advisory. A floor below the
fixed version fails here, so the table and pyproject.toml move together (docs/deploy.md says how
to update both and the lock file).
"""

from __future__ import annotations

import tomllib

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
