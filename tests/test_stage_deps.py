"""dvc.yaml declares every module a stage runs, and no more, so that a code change reruns
what it affects and nothing else.

A stage declares its code as stages/code/<stage>, a folder of links to the library
modules it runs (DVC hashes the files they point to). A model or a source is imported by
its name (seqcast.models.catalog, seqcast.data.sources): a stage of one model
(train@lstm) also declares stages/model_code/<name>, the links to the files that model
runs, and a stage that may run any source links every source. The test follows each
stage script's imports through the seqcast package (imports inside functions too) and
fails when a module it reaches is not declared, or when a declared one is never run.
`python tests/stage_deps.py --links --dvc-yaml` remakes the folders and the deps.
"""

import ast
import os
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


def imported_modules(path: Path, runtime_only: bool = False) -> set[str]:
    """Dotted names that `path` imports, `from seqcast import x` read as seqcast.x if x is
    a module, and relative imports resolved against the file's package; `runtime_only`:
    not those under `if TYPE_CHECKING:`."""
    package = ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(PACKAGE).parts[:-1])
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(child) for child in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
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


MODEL_CODE = ROOT / "stages" / "model_code"
STAGE_CODE = ROOT / "stages" / "code"
# Stages that may run any model, or any source, by the name params give: they declare the
# whole folder (a stage of one model declares stages/model_code/<its name>).
ANY_MODEL: set[str] = set()  # none: forecast reads what each evaluation worked out
ANY_SOURCE = {"download", "sweep_prices"}


def model_files(name: str) -> set[Path]:
    """The files that model `name` runs: its module and all it imports."""
    from seqcast.models.catalog import BUILT_IN

    return reached_files(PACKAGE / "seqcast" / "models" / f"{BUILT_IN[name]}.py") | {
        PACKAGE / "seqcast" / "models" / f"{BUILT_IN[name]}.py"
    }


def dynamic_files(name: str) -> set[Path]:
    """What stage `name` runs beyond its imports: models and sources chosen by name."""
    files: set[Path] = set()
    if name in ANY_MODEL:
        files |= set((PACKAGE / "seqcast" / "models").glob("*.py"))
    if name in ANY_SOURCE:
        files |= set((PACKAGE / "seqcast" / "data" / "sources").glob("*.py"))
    return files


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def stage_script(stage: dict) -> Path:
    body = stage.get("do", stage)
    words = body["cmd"].split()
    assert words[0] == "python", body["cmd"]
    return ROOT / words[1]


def declared_files(deps: list[str]) -> set[Path]:
    """The files the deps name, folders walked, links resolved (stages/model_code/*)."""
    files = set()
    for dep in deps:
        path = ROOT / dep
        found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files |= {Path(os.path.realpath(p)) for p in found}
    return files


def model_items(body: dict) -> dict[str, str]:
    """How a per-model stage names its model in paths: ${item} or ${item.model}; {} else."""
    for dep in body["deps"]:
        if dep.startswith("stages/model_code/"):
            return {dep.removeprefix("stages/model_code/"): "model"}
    return {}


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_declares_every_module_it_runs_and_no_other(name):
    from seqcast.models.catalog import BUILT_IN

    stage = stages()[name]
    body = stage.get("do", stage)
    script = stage_script(stage)
    items = model_items(body)
    for model in BUILT_IN if items else [None]:
        deps = [d.replace(next(iter(items)), model) if items else d for d in body["deps"]]
        deps = [dep for dep in deps if "${" not in dep]
        declared = declared_files(deps)
        assert Path(os.path.realpath(script)) in declared, f"{name}: deps lack {script}"
        runs = reached_files(script) | dynamic_files(name) | {script}
        if model is not None:
            runs |= model_files(model)
        runs = {Path(os.path.realpath(p)) for p in runs}
        where = f"stage {name}" + (f" of {model}" if model else "")
        missing = sorted(str(p.relative_to(ROOT)) for p in runs - declared)
        assert not missing, f"{where} runs modules that dvc.yaml does not list: {missing}"
        code = {p for p in declared if p.is_relative_to(PACKAGE)}
        extra = sorted(str(p.relative_to(ROOT)) for p in code - runs)
        assert not extra, f"{where}: dvc.yaml lists modules it never runs: {extra}"


@pytest.mark.parametrize("model", sorted(os.listdir(MODEL_CODE)))
def test_a_model_code_folder_links_exactly_the_files_the_model_runs(model):
    links = {Path(os.path.realpath(p)) for p in (MODEL_CODE / model).iterdir()}
    runs = {Path(os.path.realpath(p)) for p in model_files(model)}
    assert links == runs, (
        f"stages/model_code/{model}: add {sorted(map(str, runs - links))}, "
        f"remove {sorted(map(str, links - runs))} (python tests/stage_deps.py --links)"
    )


def test_every_built_in_model_has_its_code_folder():
    from seqcast.models.catalog import BUILT_IN

    assert sorted(os.listdir(MODEL_CODE)) == sorted(BUILT_IN)


def test_every_stage_and_no_other_has_its_code_folder():
    assert sorted(os.listdir(STAGE_CODE)) == sorted(stages())


def test_the_walk_finds_lazy_and_relative_imports(tmp_path):
    files = reached_files(ROOT / "stages" / "evaluate.py")
    names = {str(p.relative_to(ROOT)) for p in files}
    assert "src/seqcast/params.py" in names
    assert "src/seqcast/__init__.py" in names
    # imported inside a function: only when forecast.model is a registered model
    forecast = {str(p.relative_to(ROOT)) for p in reached_files(ROOT / "stages" / "forecast.py")}
    assert "src/seqcast/ops/model_registry.py" in forecast


def test_a_stage_of_one_model_reaches_no_other_model():
    names = {p.name for p in reached_files(ROOT / "stages" / "train.py")}
    assert not names & {"recurrent.py", "numpy_rnn.py", "baselines.py"}, names


@pytest.mark.parametrize("script", sorted((ROOT / "stages").glob("*.py")), ids=lambda p: p.name)
def test_every_stage_script_is_thin(script):
    """A stage reads its arguments, calls the library and writes through seqcast.artifacts."""
    lines = len(script.read_text().splitlines())
    assert lines <= 40, f"{script.name} has {lines} lines; move its logic into src/seqcast"
