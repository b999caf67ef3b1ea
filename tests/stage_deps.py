"""Write what dvc.yaml's code deps are made of.

`python tests/stage_deps.py --links` remakes stages/code/<stage>/ (links to the library
modules each stage runs) and stages/model_code/<name>/ (links to the files each model
runs); `--dvc-yaml` writes, in dvc.yaml, each stage's code deps: its folder, and its
model's for a stage of one model. tests/test_stage_deps.py fails whenever either is stale.
"""

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_stage_deps import (
    MODEL_CODE,
    PACKAGE,
    ROOT,
    STAGE_CODE,
    dynamic_files,
    model_files,
    reached_files,
    stage_script,
    stages,
)

PER_MODEL = {"foreach": "${item}", "matrix": "${item.model}"}


def _link_folder(folder: Path, files: set[Path]) -> None:
    folder.mkdir(parents=True)
    for path in sorted(files):
        link = folder / "_".join(path.relative_to(PACKAGE / "seqcast").parts)
        link.symlink_to(os.path.relpath(path, folder))


def stage_files(name: str, stage: dict) -> set[Path]:
    """The library modules stage `name` runs, beside its model's (stages/model_code)."""
    runs = reached_files(stage_script(stage)) | dynamic_files(name)
    return {p for p in runs if p.is_relative_to(PACKAGE)}


def write_links() -> None:
    from seqcast.models.catalog import BUILT_IN

    shutil.rmtree(MODEL_CODE, ignore_errors=True)
    for name in BUILT_IN:
        _link_folder(MODEL_CODE / name, model_files(name))
    shutil.rmtree(STAGE_CODE, ignore_errors=True)
    for name, stage in stages().items():
        _link_folder(STAGE_CODE / name, stage_files(name, stage))


def model_item(stage: dict) -> str | None:
    """How a stage of one model names it in dvc.yaml: ${item} or ${item.model}."""
    if "foreach" in stage and "models" in str(stage["foreach"]):
        return PER_MODEL["foreach"]
    if "matrix" in stage and "model" in stage["matrix"]:
        return PER_MODEL["matrix"]
    return None


def rewrite_dvc_yaml() -> None:
    """Each stage's code deps in dvc.yaml, after its script: stages/code/<stage>, and
    stages/model_code/<its model> for a stage of one model; the rest is kept."""
    lines = (ROOT / "dvc.yaml").read_text().splitlines()
    all_stages = stages()
    out, current = [], None
    for line in lines:
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("   ") and stripped.endswith(":"):
            current = stripped[:-1]
        code = ("- src/seqcast", "- stages/model_code", "- stages/code/")
        if stripped.startswith(code):
            continue
        out.append(line)
        if current in all_stages and stripped.startswith("- stages/") and stripped.endswith(".py"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}- stages/code/{current}  # the library modules it runs")
            item = model_item(all_stages[current])
            if item:
                out.append(f"{indent}- stages/model_code/{item}  # and its model's")
    (ROOT / "dvc.yaml").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    if "--links" in sys.argv:
        write_links()
    if "--dvc-yaml" in sys.argv:
        rewrite_dvc_yaml()
