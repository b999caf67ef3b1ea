"""What the MLflow runs log of the params: every section that can change a result,
flattened to text (lstm.hidden_size, train.max_epochs, ...)."""

from typing import Any

from seqcast.models import model_class
from seqcast.ops import lineage
from seqcast.params import Params

# params.yaml sections that change no model's result; sweep.* goes to the sweep's own runs
UNLOGGED_SECTIONS = {"gate", "tracking", "sweep"}


def own_section(params: Params, model: str) -> dict[str, Any]:
    """models.<model> under the model's name, its train.* overrides as <model>.train.*,
    flattened: what the pipeline's run logs of the model (evaluate@model writes it)."""
    section = params.model_params(model)
    flat = lineage.flatten(model, section.model_dump(mode="json", exclude={"train"}))
    if model_class(model).trained_by_epochs:
        overrides = section.train.model_dump(mode="json", exclude_none=True)
        flat |= lineage.flatten(f"{model}.train", overrides)
    return flat


def logged_params(
    params: Params, model: str | None = None, sections: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """Every param that can change a result, flattened to text: each params.yaml section but
    gate and tracking, and models.enabled.

    A model's run (`model` given) has its own section only, under its own name
    (lstm.hidden_size), and train.* as that model trained: with its models.<name>.train
    overrides applied (also logged as lstm.train.*). The pipeline's run (no `model`) has
    every enabled model's section, from `sections` ({model: own_section}, as each model's
    evaluation wrote it) or from `params`, and the shared train.*.
    """
    shared = params.model_dump(mode="json", exclude=UNLOGGED_SECTIONS | {"models"})
    flat = lineage.flatten("", shared)
    flat["models.enabled"] = params.models.enabled
    for name in params.models.enabled if model is None else [model]:
        own = sections.get(name) if sections is not None and model is None else None
        flat |= own_section(params, name) if own is None else own
    if model is not None and model_class(model).trained_by_epochs:
        flat |= lineage.flatten("train", params.train_for(model).model_dump(mode="json"))
    return {key: lineage.param_text(value) for key, value in flat.items()}
