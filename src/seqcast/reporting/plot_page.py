"""The HTML page that `dvc plots show` and `dvc plots diff` fill: it opens with no network.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so its plots stay blank
offline. This page carries them inline (vl-convert's bundle of the three), and
.dvc/config points `plots.html_template` at it. `make` writes it on install:

    seqcast plot-page .dvc/plots/offline.html

vl-convert-python is the `plots` extra of the package (requirements.txt pins it).
"""

from pathlib import Path

from seqcast import atomic
from seqcast.errors import SeqcastError

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>seqcast: DVC plots</title>
<script>{bundle}</script>
<style>
body {{ font-family: sans-serif; }}
table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def offline_page() -> str:
    try:
        import vl_convert  # only this page needs it: an optional dependency
    except ImportError:
        raise SeqcastError(
            "vl-convert-python is not installed: pip install 'seqcast[plots]' "
            "(or `make`, which installs requirements.txt)"
        ) from None
    bundle = vl_convert.javascript_bundle()
    # Inline, `</script` would end the script element early.
    bundle = bundle.replace("</script", "<\\/script")
    # DVC fills {plot_divs} and {refresh_tag}; DVC's {scripts} (the CDN tags) is left out.
    return PAGE.format(bundle=bundle, refresh_tag="{refresh_tag}", plot_divs="{plot_divs}")


def write(path: Path) -> None:
    """The page at `path`, written whole or not at all."""
    atomic.write_text(path, offline_page())
