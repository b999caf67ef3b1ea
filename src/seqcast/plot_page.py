"""The HTML page that `dvc plots show` and `dvc plots diff` fill: it opens with no network.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so its plots stay blank
offline. This page carries them inline (vl-convert's bundle of the three), and
.dvc/config points `plots.html_template` at it. `make` writes it on install:

    python -m seqcast.plot_page .dvc/plots/offline.html
"""

import argparse
from pathlib import Path

import vl_convert

from seqcast import atomic, stage

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
    bundle = vl_convert.javascript_bundle()
    # Inline, `</script` would end the script element early.
    bundle = bundle.replace("</script", "<\\/script")
    # DVC fills {plot_divs} and {refresh_tag}; DVC's {scripts} (the CDN tags) is left out.
    return PAGE.format(bundle=bundle, refresh_tag="{refresh_tag}", plot_divs="{plot_divs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the page")
    atomic.write_text(parser.parse_args().out, offline_page())


if __name__ == "__main__":
    stage.run(main, "plot_page")
