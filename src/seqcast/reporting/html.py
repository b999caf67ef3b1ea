"""A self-contained HTML copy of the markdown comparison report, readable offline.

The HTML is rendered from the markdown itself, so the two never say different things.
Every image is embedded as a base64 data URI, there is no script and no external style
sheet, and a Content-Security-Policy forbids the page from fetching anything at all: it
opens the same from a laptop on a plane as from the CI artifact store.
"""

import base64
import html
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from seqcast.errors import SeqcastError

MEDIA_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}
# Nothing may be fetched; images come from data: URIs and the styles are inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #1b1b1b; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; }
th { background: #f2f2f2; }
tbody tr:nth-child(even) { background: #fafafa; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""


def data_uri(path: Path) -> str:
    media = MEDIA_TYPES.get(path.suffix.lower())
    if media is None:
        raise SeqcastError(f"{path}: cannot embed a {path.suffix} image in the HTML report")
    if not path.is_file():
        raise SeqcastError(f"{path}: the report links this image but it does not exist")
    return f"data:{media};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _embed_images(tokens: list[Token], base_dir: Path) -> None:
    for token in tokens:
        for child in token.children or []:
            if child.type != "image":
                continue
            source = str(child.attrGet("src"))
            if "://" in source or source.startswith(("data:", "//")):
                raise SeqcastError(
                    f"the report links the image {source!r}: only local files can be embedded"
                )
            child.attrSet("src", data_uri(base_dir / source))


def render_html(markdown: str, base_dir: str | Path, title: str) -> str:
    """The report as one HTML document; images are read relative to `base_dir`."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    _embed_images(tokens, Path(base_dir))
    body = parser.renderer.render(tokens, parser.options, {})
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )
