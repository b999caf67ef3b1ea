"""dvc.yaml declares every module a stage runs, so that a code change reruns what it affects.

The test follows each stage script's imports through the seqcast package (imports inside
functions too: a source or model that loads lazily still runs in the stage; a registry that
discovers its package's modules reaches every one of them) and fails when
a module it reaches is not a declared dependency, or inside a declared folder.
"""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src"


def module_file(name: str) -> Path | None:
    """The file of a seqcast module (a package's __init__.py), or None outside seqcast."""
    if name != "seqcast" and not name.startswith("seqcast."):
        return None
    base = PACKAGE.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Dotted names that `path` imports, `from seqcast import x` read as seqcast.x if x is
    a module, and relative imports resolved against the file's package."""
    package = ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(PACKAGE).parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def reached_files(script: Path) -> set[Path]:
    """Every seqcast file that importing and running `script` can load."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        current = todo.pop()
        inside = current.is_relative_to(PACKAGE)
        names = imported_modules(current) if inside else _script_imports(current)
        if inside and "pkgutil.iter_modules" in current.read_text():
            # A registry that discovers its package's modules (models, sources) runs them all.
            for module in sorted(current.parent.glob("*.py")):
                if module not in seen:
                    seen.add(module)
                    todo.append(module)
        for name in names:
            parts = name.split(".")
            # Importing seqcast.a.b also runs seqcast/__init__.py and seqcast/a/__init__.py.
            for i in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:i]))
                if found and found not in seen:
                    seen.add(found)
                    todo.append(found)
    return seen


def _script_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def stage_script(stage: dict) -> Path:
    body = stage.get("do", stage)
    words = body["cmd"].split()
    assert words[0] == "python", body["cmd"]
    return ROOT / words[1]


def covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(ROOT)
    return any(relative == Path(dep) or relative.is_relative_to(Path(dep)) for dep in deps)


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_declares_every_module_it_runs(name):
    stage = stages()[name]
    body = stage.get("do", stage)
    deps = [dep for dep in body["deps"] if "${" not in dep]
    script = stage_script(stage)
    assert covered(script, deps), f"{name}: dvc.yaml deps lack its script {script}"
    missing = sorted(
        str(path.relative_to(ROOT)) for path in reached_files(script) if not covered(path, deps)
    )
    assert not missing, f"stage {name} runs modules that dvc.yaml does not list: {missing}"


def test_the_walk_finds_lazy_and_relative_imports(tmp_path):
    files = reached_files(ROOT / "stages" / "download.py")
    names = {str(p.relative_to(ROOT)) for p in files}
    # imported inside a function, only when data.source = yfinance
    assert "src/seqcast/sources/yfinance_source.py" in names
    assert "src/seqcast/params.py" in names
    assert "src/seqcast/__init__.py" in names


@pytest.mark.parametrize("script", sorted((ROOT / "stages").glob("*.py")), ids=lambda p: p.name)
def test_every_stage_script_is_thin(script):
    """A stage reads its arguments, calls the library and writes through seqcast.artifacts."""
    lines = len(script.read_text().splitlines())
    assert lines <= 40, f"{script.name} has {lines} lines; move its logic into src/seqcast"
