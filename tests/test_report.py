"""The comparison report: verdicts from the DM test, the per-step section, the offline HTML."""

import base64
import re

import numpy as np
import pandas as pd
import pytest
from browser import MISSING, binaries, headless_chromium, probe_report

from seqcast.errors import SeqcastError
from seqcast.reporting import figures as plots
from seqcast.reporting.html import CSP, render_html
from seqcast.reporting.markdown import comparison_markdown, leaderboard, per_step_section, verdict

NAN = float("nan")


def _row(rmse, skill, p, dm=0.0):
    return {
        "mae": rmse * 0.8,
        "rmse": rmse,
        "mape": 1.0,
        "r2": 0.9,
        "mase": 2.0,
        "skill_vs_naive": skill,
        "directional_accuracy": 0.5,
        "dm_statistic": dm,
        "dm_p_better": p,
    }


def test_verdict_says_plainly_when_no_model_is_significantly_better():
    table = leaderboard(
        {"naive": _row(1.0, 0.0, NAN), "gru": _row(0.999, 0.001, 0.31), "rnn": _row(2.0, -1, 1.0)}
    )
    text = verdict(table)
    assert text.startswith("**No model beats the naive forecast significantly**")
    # A lower RMSE that is not significant is named as such, not as a win.
    assert "gru has a lower RMSE than naive on this test split (best skill 0.001)" in text
    assert "by no more than chance gives" in text


def test_verdict_names_the_significant_winners():
    table = leaderboard(
        {"naive": _row(1.0, 0.0, NAN), "lstm": _row(0.9, 0.1, 0.004), "gru": _row(0.95, 0.05, 0.2)}
    )
    text = verdict(table)
    assert text.startswith("**1 of 2 models beat the naive forecast significantly**")
    assert "the best, lstm, by a skill of 0.1" in text
    assert "p = 0.004, Holm-adjusted 0.008" in text  # two models tested: 2 x 0.004


def test_per_step_section_tables_and_finding():
    rmse = pd.DataFrame({1: [1.0, 1.2], 2: [1.5, 1.4]}, index=["naive", "lstm"])
    p = pd.DataFrame({1: [NAN, 0.9], 2: [NAN, 0.0004]}, index=["naive", "lstm"])
    text = per_step_section(rmse, p)
    assert "| RMSE | day 1 | day 2 |" in text
    assert "| lstm | 1.2 | 1.4 |" in text
    assert "| lstm | 0.900 | < 0.001 |" in text
    assert "| naive | n/a | n/a |" in text
    # One model tested on each day: its Holm-adjusted p is its own.
    assert "| p (Holm) | day 1 | day 2 |" in text
    assert text.count("| lstm | 0.900 | < 0.001 |") == 2
    assert (
        "Significantly better than naive (Holm-adjusted p < 0.05 across the 1 model tested on "
        "each day): lstm on day 2. The correction holds the chance of a false claim to 0.05 on "
        "each day, not across all 2 days."
    ) in text
    quiet = per_step_section(rmse, p.fillna(0.5).clip(lower=0.5))
    assert (
        "No model beats the naive forecast significantly on any day (Holm-adjusted p < 0.05 "
        "across the 1 model tested on each day)."
    ) in quiet


def _report(tmp_path):
    """A real report: figures by seqcast.reporting.figures, markdown by reporting.markdown."""
    figures = tmp_path / "figures"
    figures.mkdir(parents=True)
    dates = pd.bdate_range("2024-01-01", periods=30)
    history = pd.Series(np.linspace(10, 12, 20), index=dates[:20])
    actual = pd.Series(np.linspace(12, 13, 10), index=dates[20:])
    plots.forecast_figure(history, actual, {"lstm": actual + 0.1}, "test", figures / "f.png")
    plots.per_step_figure(
        pd.DataFrame({1: [1.0, 1.1], 2: [1.4, 1.5]}, ["naive", "lstm"]), figures / "s.png"
    )
    metrics = {"naive": _row(1.0, 0.0, NAN), "lstm": _row(1.1, -0.1, 0.97, dm=2.2)}
    context = {
        "ticker": "TEST",
        "target": "close",
        "horizon": 1,
        "n_targets": 10,
        "experiment": "seqcast",
        **{f"{s}_{e}": "2024-01-01" for s in ("train", "val", "test") for e in ("start", "end")},
    }
    sections = ["## Error by forecast step\n\n![Error by forecast step](figures/s.png)\n"]
    markdown = comparison_markdown(
        metrics, context, {"Forecasts against actual prices": "figures/f.png"}, sections
    )
    (tmp_path / "comparison.md").write_text(markdown)
    page = render_html(markdown, tmp_path, "TEST report")
    (tmp_path / "comparison.html").write_text(page)
    return markdown, page


def test_html_embeds_every_figure_and_links_nothing_outside(tmp_path):
    markdown, page = _report(tmp_path)
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == markdown.count("![") == 2
    for source, name in zip(sources, ["s.png", "f.png"], strict=True):
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :]) == (tmp_path / "figures" / name).read_bytes()
    assert f'content="{CSP}"' in page
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(?!data:)', page), "an external reference"
    # The leaderboard is an HTML table with one row per model, best RMSE first.
    board = page[page.index("<table>") : page.index("</table>")]
    assert re.findall(r"<tr>\s*<td[^>]*>\d+</td>\s*<td[^>]*>(\w+)</td>", board) == ["naive", "lstm"]


def test_html_refuses_remote_or_missing_images(tmp_path):
    with pytest.raises(SeqcastError, match="only local files can be embedded"):
        render_html("![x](https://example.com/x.png)", tmp_path, "t")
    with pytest.raises(SeqcastError, match="the report links this image but it does not exist"):
        render_html("![x](figures/none.png)", tmp_path, "t")


def test_html_escapes_text_from_the_markdown(tmp_path):
    page = render_html("# a <script>alert(1)</script> & b", tmp_path, "<t>")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page and "<title>&lt;t&gt;</title>" in page


@pytest.mark.skipif(binaries() is None, reason=MISSING)
def test_html_report_renders_offline_in_headless_chromium(tmp_path):
    _report(tmp_path / "report")
    with headless_chromium(tmp_path / "profile") as browser:
        page = probe_report(browser, tmp_path / "report" / "comparison.html")
    assert page["title"] == "TEST report"
    assert page["leaderboard"] == ["naive", "lstm"]
    assert page["header"][:3] == ["rank", "model", "RMSE"]
    assert "p (better than naive)" in page["header"] and "p (Holm)" in page["header"]
    assert page["boardHeight"] > 50  # laid out, not collapsed
    assert page["headings"] == [
        "Leaderboard",
        "Error by forecast step",
        "Forecasts against actual prices",
    ]
    assert len(page["images"]) == 2
    for image in page["images"]:
        assert image["scheme"] == "data"
        assert image["complete"] and image["naturalWidth"] > 300, image  # decoded
        assert image["shownWidth"] > 300, image  # and shown
    assert page["fetched"] == []  # the page loaded nothing from anywhere
    assert "No model beats the naive forecast significantly" in page["text"]


def test_the_report_says_how_far_the_selection_lies_from_the_best_test_score():
    from seqcast.reporting.markdown import selection_note

    metrics = {"naive": {"rmse": 2.0}, "lstm": {"rmse": 1.05}, "gru": {"rmse": 1.0}}
    chosen = {"model": "lstm", "significance": 0.05}
    assert selection_note(chosen, metrics) == (
        "lstm, selected on validation, has a test RMSE of 1.05; the lowest is gru's 1, so "
        "the selection lies 5.0% above the best test score, which no choice made before the "
        "test split could know."
    )
    best = {"model": "gru", "significance": None}
    assert selection_note(best, metrics) == (
        "gru, selected on validation, also has the lowest test RMSE (1)."
    )
    naive = {"model": "naive", "significance": None}
    assert selection_note(naive, metrics).startswith("No model beat naive on validation")
    naive["significance"] = 0.05
    assert selection_note(naive, metrics).startswith("No model beat naive significantly on")
    assert selection_note({"model": "lstm", "chosen_by": "params"}, metrics) == ""  # named


def test_an_empty_backtest_is_said_not_tabled():
    from seqcast.reporting.markdown import backtest_section

    text = backtest_section({}, {}, "No walk-forward backtest: `backtest.origins` is empty.")
    assert text == (
        "## Walk-forward backtest\n\nNo walk-forward backtest: `backtest.origins` is empty.\n"
    )
