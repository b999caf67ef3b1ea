"""The page `dvc plots` fills carries its charting library inline: it opens with no network."""

import re
import sys

import pytest

from seqcast import cli
from seqcast.reporting import plot_page


def test_the_page_has_dvcs_placeholders_and_no_script_from_elsewhere():
    page = plot_page.offline_page()
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page  # DVC's CDN script tags
    assert not re.search(r"<script[^>]*\ssrc=", page)
    assert "window.vegaEmbed" in page
    # One inline script element: the bundle never closes it early.
    assert page.count("</script") == 1


def test_the_command_writes_the_page(tmp_path):
    assert cli.main(["plot-page", str(tmp_path / "offline.html")]) == 0
    assert (tmp_path / "offline.html").read_text() == plot_page.offline_page()


def test_without_vl_convert_the_command_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # as if it were not installed
    with pytest.raises(SystemExit) as info:
        cli.main(["plot-page", str(tmp_path / "offline.html")])
    assert (info.value.code, capsys.readouterr()) == (
        2,
        (
            "",
            "seqcast plot-page: error: vl-convert-python is not installed: pip install "
            "'seqcast[plots]' (or `make`, which installs requirements.txt)\n",
        ),
    )
    assert not (tmp_path / "offline.html").exists()
