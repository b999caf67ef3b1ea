"""The noise-floor line of the comparison report: shown for synthetic series only."""

from seqcast.reporting.markdown import comparison_markdown, noise_floor_note

METRICS = {
    "naive": {
        "rmse": 0.16,
        "mae": 0.13,
        "mape": 50.0,
        "r2": 0.9,
        "mase": 1.0,
        "skill_vs_naive": 0,
        "directional_accuracy": 0.0,
        "dm_statistic": float("nan"),
        "dm_p_better": float("nan"),
    },
    "linear": {
        "rmse": 0.125,
        "mae": 0.1,
        "mape": 40.0,
        "r2": 0.95,
        "mase": 0.8,
        "skill_vs_naive": 0.21875,
        "directional_accuracy": 0.6,
        "dm_statistic": -2.5,
        "dm_p_better": 0.01,
    },
}
CONTEXT = {
    "ticker": "noisy_sine",
    "target": "value",
    "horizon": 1,
    "n_targets": 148,
    "experiment": "seqcast",
    "range_note": "",
    **{f"{s}_{e}": "2000-01-01" for s in ("train", "val", "test") for e in ("start", "end")},
}


def test_note_compares_the_best_model_with_the_oracle():
    note = noise_floor_note(0.1, "only noise is unpredictable", "noisy_sine", 1, 0.0981, METRICS)
    assert note == (
        "Noise floor: 0.1, the best RMSE any model can expect 1 step(s) ahead on the synthetic "
        "series noisy_sine (only noise is unpredictable). On these test targets the oracle "
        "forecast, which knows how the series was made, has RMSE 0.0981 (the floor up to the "
        "luck of a finite sample); the best model here, linear, has RMSE 0.125 (1.27 x the "
        "oracle's)."
    )


def test_a_zero_floor_has_no_ratio():
    note = noise_floor_note(0.0, "no noise", "sine", 3, 0.0, METRICS)
    assert note.startswith("Noise floor: 0, the best RMSE any model can expect 3 step(s) ahead")
    assert note.endswith(
        "has RMSE 0 (the floor up to the luck of a finite sample); the best "
        "model here, linear, has RMSE 0.125."
    )


def test_the_report_shows_the_line_only_when_the_floor_is_known():
    without = comparison_markdown(METRICS, CONTEXT, {})
    assert "Noise floor" not in without
    note = noise_floor_note(0.1, "why", "noisy_sine", 1, 0.1, METRICS)
    with_note = comparison_markdown(METRICS, {**CONTEXT, "noise_floor_note": note}, {})
    assert with_note.replace(note + "\n\n", "") == without
    assert with_note.index(note) > with_note.index("## Leaderboard")
