"""Train one model with several seeds, so that a difference between models can be told
from the luck of the initial weights and of the batch order."""

from seqcast.errors import SeqcastError
from seqcast.models import Forecaster, History, build_model, model_class
from seqcast.params import Params
from seqcast.prep.windows import Windows


def fit_seeds(
    name: str, params: Params, train: Windows, val: Windows
) -> dict[int, tuple[Forecaster, History]]:
    """The model fit once per seed of params.seed_list(): train.seed first, then train.seed
    + 1, ... (seeds.count in all). The first is the pipeline's model, seeded as always."""
    if train.y.ndim == 2 and not model_class(name).multi_output:
        raise SeqcastError(
            f"{name} has one output and cannot fit the {train.y.shape[1]} per-window "
            "targets of multistep.strategy = 'direct'; use 'recursive'"
        )
    fitted = {}
    for seed in params.seed_list():
        model = build_model(name, params.model_params(name), params.with_seed(seed).train_for(name))
        fitted[seed] = (model, model.fit(train, val))
    return fitted
