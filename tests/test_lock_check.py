"""CI's lock check: a committed input or report that dvc.lock does not describe fails."""

from seqcast.lock_check import stale_entries

LOCK = {
    "stages": {
        "download": {"outs": [{"path": "data/raw/prices.parquet"}]},
        "compare": {"outs": [{"path": "reports/metrics.json"}, {"path": "reports/figures"}]},
    }
}


def test_changed_code_params_and_committed_reports_are_stale(monkeypatch):
    monkeypatch.setattr(
        "seqcast.lock_check._git_tracked", lambda paths: {p for p in paths if "reports" in p}
    )
    status = {
        "download": [
            {"changed deps": {"src/seqcast/sources": "modified"}},
            {"changed outs": {"data/raw/prices.parquet": "not in cache"}},
        ],
        "featurize": [{"changed deps": {"params.yaml": {"features.lags": "modified"}}}],
        "compare": [
            "changed command",
            {"changed deps": {"data/raw/prices.parquet": "deleted"}},
            {"changed outs": {"reports/metrics.json": "modified"}},
        ],
    }
    assert stale_entries(status, LOCK) == [
        "download: src/seqcast/sources (modified)",
        "featurize: params.yaml: features.lags (modified)",
        "compare: cmd (changed command)",
        "compare: reports/metrics.json (modified)",
    ]


def test_outputs_missing_from_a_fresh_clone_are_not_stale(monkeypatch):
    monkeypatch.setattr("seqcast.lock_check._git_tracked", lambda paths: set())
    status = {
        "download": [{"changed outs": {"data/raw/prices.parquet": "not in cache"}}],
        "compare": [{"changed deps": {"data/raw/prices.parquet": "deleted"}}],
    }
    assert stale_entries(status, LOCK) == []
