"""The page `dvc plots` fills carries its charting library inline: it opens with no network."""

import re

from seqcast import plot_page


def test_the_page_has_dvcs_placeholders_and_no_script_from_elsewhere():
    page = plot_page.offline_page()
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page  # DVC's CDN script tags
    assert not re.search(r"<script[^>]*\ssrc=", page)
    assert "window.vegaEmbed" in page
    # One inline script element: the bundle never closes it early.
    assert page.count("</script") == 1
