"""The package declares what it imports: pyproject.toml gives each dependency a range,
a lock file pins a version inside it (requirements.txt the runtime that `make repro`
installs, requirements-dev.txt and requirements-ray.txt the extras that `make test` adds),
and every third-party import in src/ and tests/ comes from one of them, so that
`pip install .` gives a working package and `make` an exact one."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# Each lock file and the part of pyproject.toml it pins: the runtime (the dependencies and
# the plots extra, which `make repro` uses) apart from what only tests and clusters need.
LOCKS = {
    "requirements.txt": (None, "plots"),
    "requirements-dev.txt": ("dev",),
    "requirements-ray.txt": ("ray",),
}


def _declared(groups: tuple[str | None, ...] | None = None) -> dict[str, Requirement]:
    """Requirement per normalised name: the dependencies (group None) and the extras named
    in `groups`; every group when `groups` is None."""
    project = PYPROJECT["project"]
    optional = project["optional-dependencies"]
    if groups is None:
        groups = (None, *optional)
    lines = [
        line
        for group in groups
        for line in (project["dependencies"] if group is None else optional[group])
    ]
    return {_normal(req.name): req for req in map(Requirement, lines)}


def _pins(file: str) -> dict[str, str]:
    """The `name==version` lines of one lock file (its `-r` includes aside)."""
    pins = {}
    for line in (ROOT / file).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r "):
            name, _, version = line.partition("==")
            assert version, f"{file}: {line!r} is not pinned with =="
            pins[_normal(Requirement(name).name)] = version.strip()
    return pins


def _pinned() -> dict[str, str]:
    return {name: v for file in LOCKS for name, v in _pins(file).items()}


def _third_party_imports(folder: Path) -> dict[str, str]:
    """Top-level module -> the first file that imports it, for modules outside the standard
    library, seqcast and `folder`'s own modules (imports inside functions count too)."""
    local = {path.stem for path in folder.glob("*.py")} | {"seqcast"}
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, path.relative_to(ROOT).as_posix())
    return found


def _distributions(imports: dict[str, str]) -> dict[str, set[str]]:
    installed = packages_distributions()
    missing = {module: where for module, where in imports.items() if module not in installed}
    assert not missing, f"imported but installed by no distribution: {missing}"
    return {module: {_normal(d) for d in installed[module]} for module in imports}


def test_every_import_of_the_library_is_a_declared_and_pinned_dependency():
    imports = _third_party_imports(ROOT / "src" / "seqcast")
    assert {"torch", "pandas", "mlflow", "yaml", "sklearn"} <= set(imports)  # the walk works
    # The runtime lock, but for Ray, which a cluster's user adds (`make ray`).
    declared = _declared(groups=(None, "plots", "ray"))
    pinned = _pins("requirements.txt") | _pins("requirements-ray.txt")
    for module, dists in _distributions(imports).items():
        where = imports[module]
        assert dists & set(declared), f"{module} ({where}): not in pyproject.toml's dependencies"
        assert dists & set(pinned), f"{module} ({where}): not pinned in requirements.txt"


def test_each_lock_pins_exactly_its_part_and_make_repro_installs_the_runtime_only():
    for file, groups in LOCKS.items():
        assert set(_pins(file)) == set(_declared(groups=groups)), file
    runtime = set(_pins("requirements.txt"))
    assert not runtime & {"pytest", "moto", "boto3", "psycopg2-binary", "ray", "ruff"}
    assert (ROOT / "requirements-dev.txt").read_text().count("-r requirements") == 2
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(INSTALLED): ")[1].split("\n\n")[0]
    assert '-r requirements.txt -e ".[plots]"' in recipe
    assert "repro: $(INSTALLED) " in makefile and "test: $(DEV_INSTALLED) " in makefile


def test_every_import_of_the_tests_is_declared_with_the_dev_extra():
    imports = _third_party_imports(ROOT / "tests")
    declared = _declared()
    assert {"pytest", "packaging"} <= set(imports)
    for module, dists in _distributions(imports).items():
        assert dists & set(declared), f"{module} ({imports[module]}): declared nowhere"


def test_the_lock_pins_exactly_the_declared_dependencies_inside_their_ranges():
    declared, pinned = _declared(), _pinned()
    assert set(pinned) == set(declared), (
        f"pinned, not declared: {sorted(set(pinned) - set(declared))}; "
        f"declared, not pinned: {sorted(set(declared) - set(pinned))}"
    )
    outside = {
        name: f"{version} not in {declared[name].specifier}"
        for name, version in pinned.items()
        if not declared[name].specifier.contains(Version(version), prereleases=True)
    }
    assert outside == {}


def test_torch_stays_on_the_cpu_release_on_disk():
    """A newer torch than the pinned CPU build is a multi-GB CUDA download."""
    torch = _declared(groups=(None,))["torch"].specifier
    assert torch.contains("2.13.0") and not torch.contains("2.14.0")


def test_the_console_command_and_the_extras():
    assert PYPROJECT["project"]["scripts"] == {"seqcast": "seqcast.cli:main"}
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {_normal(Requirement(r).name) for r in extras["dev"]} == {
        "pytest",
        "pytest-xdist",
        "ruff",
        "packaging",
        "moto",
        "psycopg2-binary",
        "boto3",
    }
    assert [_normal(Requirement(r).name) for r in extras["ray"]] == ["ray"]
    assert [_normal(Requirement(r).name) for r in extras["plots"]] == ["vl-convert-python"]
