"""Training with several seeds: the first is the pipeline's own model, the others differ."""

import numpy as np
import pytest
import torch
from building import build
from inmemory import Pipeline, sine

from seqcast.jobs.train import fit_seeds
from seqcast.params import parse_params
from seqcast.reporting.markdown import seeds_section
from seqcast.scoring.evaluation import mean_and_spread


def _params(count: int):
    return parse_params(
        {
            "train": {"seed": 7, "max_epochs": 2, "batch_size": 32},
            "seeds": {"count": count},
            "models": {"gru": {"hidden_size": 4}},
        }
    )


@pytest.fixture(scope="module")
def pipe():
    return Pipeline(sine(150) + np.linspace(0, 3, 150), transform="difference")


def test_seed_list_starts_at_train_seed():
    assert _params(3).seed_list() == [7, 8, 9]
    assert _params(1).seed_list() == [7]
    assert _params(3).with_seed(9).train.seed == 9


def test_first_seed_is_the_pipelines_model_and_the_others_differ(pipe):
    fitted = fit_seeds("gru", _params(3), pipe.train, pipe.val)
    assert list(fitted) == [7, 8, 9]
    alone = build("gru", _params(1))
    alone.fit(pipe.train, pipe.val)
    first = fitted[7][0].net.state_dict()
    for key, tensor in alone.net.state_dict().items():
        assert torch.equal(first[key], tensor), key
    predictions = {seed: model.predict(pipe.test.x) for seed, (model, _) in fitted.items()}
    assert not np.array_equal(predictions[7], predictions[8])
    assert not np.array_equal(predictions[8], predictions[9])


def test_deterministic_models_have_no_seed_spread(pipe):
    fitted = fit_seeds("linear", _params(3), pipe.train, pipe.val)
    runs = {
        str(seed): {"rmse": float(np.mean(m.predict(pipe.test.x) ** 2))}
        for seed, (m, _) in fitted.items()
    }
    assert mean_and_spread(runs)["std"] == {"rmse": 0.0}


def test_seed_section_gives_mean_spread_and_range():
    runs = {
        "7": {"rmse": 1.0, "skill_vs_naive": -0.1},
        "8": {"rmse": 2.0, "skill_vs_naive": -0.3},
        "9": {"rmse": 3.0, "skill_vs_naive": -0.2},
    }
    text = seeds_section({"gru": {"seeds": runs, **mean_and_spread(runs)}}, [7, 8, 9])
    assert "trained with 3 seeds (7, 8, 9)" in text
    assert "| gru | 2 ± 1 | 1 .. 3 | -0.2 ± 0.1 |" in text
