"""The README and docs/ stay true: the params examples of docs/data-sources.md are valid
params, the README's pipeline graph is the one DVC draws, the README stays short, and
every relative link in the README and docs/ points to a file and heading that exist."""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqcast.params import parse_params

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def examples() -> list[dict]:
    page = (ROOT / "docs" / "data-sources.md").read_text()
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", page, re.S)]


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
    section = readme.split("\n## The pipeline\n", 1)[1].split("\n## ", 1)[0]
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


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 260, f"README.md has {len(lines)} lines: move detail to docs/"


def _prose(text: str) -> str:
    """The page without code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation dropped, spaces
    as hyphens, a repeated heading numbered."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", _prose(page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def _links(page: Path) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", _prose(page.read_text()))
    return [t for t in targets if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page):
    broken = []
    for link in _links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_check_sees_the_readmes_links():
    assert len(_links(ROOT / "README.md")) >= len(PAGES)
