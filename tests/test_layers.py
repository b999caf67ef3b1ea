"""The library's layers: params only at the edges, no import cycle, no two modules with one
name (docs/architecture.md)."""

from collections import defaultdict
from pathlib import Path

from test_stage_deps import imported_modules

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "seqcast"
# The edges: what reads params.yaml (stages/ are outside the package)
EDGES = {"params.py", "cli.py", "stage.py", "__main__.py"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def runtime_imports(path: Path, name: str) -> set[str]:
    """The seqcast modules `path` imports when it runs (not under `if TYPE_CHECKING:`)."""
    known = modules()
    return {m for m in imported_modules(path, runtime_only=True) if m in known and m != name}


def test_no_module_below_the_jobs_reads_params():
    readers = sorted(
        name
        for name, path in modules().items()
        if path.relative_to(PACKAGE).parts[0] != "jobs"
        and path.name not in EDGES
        and "seqcast.params" in runtime_imports(path, name)
    )
    assert readers == [], (
        f"{readers} import seqcast.params: take the sections you use as arguments; "
        "stages/, cli.py and seqcast.jobs read params"
    )


def test_no_import_cycle_at_run_time():
    graph = {name: runtime_imports(path, name) for name, path in modules().items()}
    # a package's __init__ that re-exports its own submodules is not a cycle
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(f"{t}.")}
    cycles = []
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif state[nxt] == 0:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    assert cycles == [], f"import cycles: {[' -> '.join(c) for c in cycles]}"


def test_no_two_modules_share_a_name():
    by_name = defaultdict(list)
    for name in modules():
        by_name[name.rsplit(".", 1)[-1]].append(name)
    shared = {leaf: names for leaf, names in by_name.items() if len(names) > 1}
    assert shared == {}, f"modules with one name: {shared}"
