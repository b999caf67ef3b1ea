"""The params examples of README's "Data sources" section stay valid params."""

import re
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
