"""Write what dvc.yaml's code deps are made of: `python tests/stage_deps.py --links` remakes
stages/model_code/<name> (links to the files each model runs); `--print` prints, per
stage, the seqcast modules it runs (for its deps in dvc.yaml). tests/test_stage_deps.py
fails whenever either is stale."""

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_stage_deps import (
    MODEL_CODE,
    PACKAGE,
    ROOT,
    model_files,
    reached_files,
    stage_script,
    stages,
)


def write_links() -> None:
    from seqcast.models.catalog import BUILT_IN

    shutil.rmtree(MODEL_CODE, ignore_errors=True)
    for name in BUILT_IN:
        folder = MODEL_CODE / name
        folder.mkdir(parents=True)
        for path in sorted(model_files(name)):
            link = folder / "_".join(path.relative_to(PACKAGE / "seqcast").parts)
            link.symlink_to(os.path.relpath(path, folder))


def print_deps() -> None:
    for name, stage in stages().items():
        print(f"{name}:")
        for path in sorted(reached_files(stage_script(stage))):
            print(f"  - {path.relative_to(ROOT)}")


if __name__ == "__main__":
    if "--links" in sys.argv:
        write_links()
    if "--print" in sys.argv:
        print_deps()


def code_deps(name: str, stage: dict) -> list[str]:
    """A stage's code deps for dvc.yaml: a folder where the stage runs all of it."""
    from test_stage_deps import ANY_MODEL, ANY_SOURCE, dynamic_files

    runs = reached_files(stage_script(stage)) | dynamic_files(name)
    runs = {p for p in runs if p.is_relative_to(PACKAGE)}
    deps: list[str] = []
    folders = sorted({p.parent for p in runs}, key=lambda p: len(p.parts))
    whole: set[Path] = set()
    for folder in folders:
        if any(folder.is_relative_to(w) for w in whole) or folder == PACKAGE / "seqcast":
            continue
        files = {p for p in folder.rglob("*.py")}
        if files <= runs:
            whole.add(folder)
    for folder in sorted(whole):
        deps.append(str(folder.relative_to(ROOT)))
    for path in sorted(runs):
        if not any(path.is_relative_to(w) for w in whole):
            deps.append(str(path.relative_to(ROOT)))
    del ANY_MODEL, ANY_SOURCE
    return sorted(deps)


def rewrite_dvc_yaml() -> None:
    """Replace each stage's src/seqcast deps in dvc.yaml by code_deps, keeping the rest."""
    lines = (ROOT / "dvc.yaml").read_text().splitlines()
    all_stages = stages()
    out, current = [], None
    for line in lines:
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("   ") and stripped.endswith(":"):
            current = stripped[:-1]
        if stripped.startswith("- src/seqcast") or stripped.startswith("- stages/model_code"):
            continue
        out.append(line)
        if current in all_stages and stripped.startswith("- stages/") and stripped.endswith(".py"):
            indent = line[: len(line) - len(line.lstrip())]
            stage = all_stages[current]
            body = stage.get("do", stage)
            for dep in code_deps(current, stage):
                out.append(f"{indent}- {dep}")
            if "foreach" in stage and current in ("train", "evaluate", "sweep"):
                out.append(f"{indent}- stages/model_code/${{item}}  # the code of this model")
            if "matrix" in stage:
                out.append(f"{indent}- stages/model_code/${{item.model}}  # the code of this model")
            del body
    (ROOT / "dvc.yaml").write_text("\n".join(out) + "\n")


if "--dvc-yaml" in sys.argv:
    rewrite_dvc_yaml()
