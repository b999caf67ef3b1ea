"""README stays true: the params examples of "Data sources" are valid params, and the
pipeline graph is the one DVC draws."""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqcast.params import parse_params

ROOT = Path(__file__).resolve().parents[1]


def examples() -> list[dict]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Data sources", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_the_section_has_an_example_per_source():
    sources = [example["data"]["source"] for example in examples()]
    assert sorted(set(sources)) == ["csv", "sample", "synthetic", "yfinance"]


@pytest.mark.parametrize("example", examples(), ids=lambda e: e["data"]["source"])
def test_each_example_is_valid_over_the_committed_params(example):
    committed = yaml.safe_load((ROOT / "params.yaml").read_text())
    # Each example replaces the keys it names within each section it names.
    merged = {**committed, **{k: {**committed[k], **v} for k, v in example.items()}}
    params = parse_params(merged, "README example")
    assert params.data.source == example["data"]["source"]


def _edges(lines: str) -> set[tuple[str, str]]:
    """`a --> b --> c` chains as (a, b), (b, c)."""
    edges = set()
    for line in lines.splitlines():
        nodes = [n.strip() for n in line.split("-->")]
        edges |= set(itertools.pairwise(nodes))
    return edges


def test_the_readme_graph_is_dvcs_with_each_foreach_stage_as_one_box():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The pipeline", 1)[1].split("\n## ", 1)[0]
    drawn = _edges(re.search(r"```mermaid\n(.*?)```", section, re.S).group(1))
    dag = subprocess.run(
        [sys.executable, "-m", "dvc", "dag", "--mermaid"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {node: label.split("@")[0] for node, label in re.findall(r'(\w+)\["([^"]+)"\]', dag)}
    stages = {(names[a], names[b]) for a, b in re.findall(r"(\w+)-->(\w+)", dag)}
    assert drawn == stages
