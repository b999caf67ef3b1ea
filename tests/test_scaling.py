"""Scalers: fit on the training rows only, scikit-learn parity, exact JSON round trip."""

import json

import numpy as np
import pytest
from sklearn import preprocessing

from seqcast.data.features import make_features
from seqcast.params import SplitParams
from seqcast.prep.scaling import (
    SCALERS,
    MinMaxScaler,
    StandardScaler,
    make_scaler,
    scaler_from_dict,
)
from seqcast.prep.splitting import split_table

PAIRS = [
    (MinMaxScaler, preprocessing.MinMaxScaler),
    (StandardScaler, preprocessing.StandardScaler),
]
IDS = ["minmax", "standard"]


@pytest.fixture
def labelled(prices):
    table = make_features(prices, "close", lags=3, rolling_windows=[5], returns=True)
    return split_table(table, SplitParams(train=0.7, val=0.15))


def _fit_on_train(method, labelled):
    """What the scale stage does: fit on the rows labelled train, nothing else."""
    features = labelled.drop(columns="split")
    return make_scaler(method).fit(features[labelled["split"] == "train"].to_numpy())


@pytest.mark.parametrize("method", IDS)
def test_scaler_fit_on_train_only_ignores_val_and_test_rows(labelled, method):
    before = _fit_on_train(method, labelled)

    changed = labelled.copy()
    later = changed["split"] != "train"
    columns = changed.columns.drop("split")
    changed.loc[later, columns] = changed.loc[later, columns] * 1000 - 5e4
    after = _fit_on_train(method, changed)

    np.testing.assert_array_equal(before.offset_, after.offset_)
    np.testing.assert_array_equal(before.scale_, after.scale_)
    # Sanity: fitting on every row would have seen the change.
    everything = make_scaler(method).fit(changed[columns].to_numpy())
    assert not np.array_equal(everything.offset_, before.offset_)


def test_minmax_maps_training_range_onto_unit_interval_and_extrapolates_beyond(labelled):
    scaler = _fit_on_train("minmax", labelled)
    features = labelled.drop(columns="split").to_numpy()
    scaled = scaler.transform(features)
    train = scaled[(labelled["split"] == "train").to_numpy()]
    np.testing.assert_allclose(train.min(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train.max(axis=0), 1.0, atol=1e-12)


def test_hand_computed_minmax_and_standard():
    values = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]])
    minmax = MinMaxScaler().fit(values)
    assert minmax.offset_.tolist() == [1.0, 10.0]
    assert minmax.scale_.tolist() == [4.0, 30.0]
    np.testing.assert_allclose(minmax.transform([[3.0, 25.0]]), [[0.5, 0.5]])

    standard = StandardScaler().fit(values)
    np.testing.assert_allclose(standard.offset_, [3.0, 20.0])
    # Population std: sqrt((4 + 0 + 4) / 3), sqrt((100 + 100 + 400) / 3).
    np.testing.assert_allclose(standard.scale_, [np.sqrt(8 / 3), np.sqrt(200)])


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_matches_sklearn_on_transform_and_inverse_transform(ours, theirs):
    rng = np.random.default_rng(3)
    train = rng.normal([100.0, -5.0, 0.01], [20.0, 1.0, 0.001], size=(150, 3))
    other = rng.normal([130.0, -2.0, 0.02], [40.0, 3.0, 0.005], size=(60, 3))
    mine = ours().fit(train)
    reference = theirs().fit(train)
    for values in (train, other):
        np.testing.assert_allclose(
            mine.transform(values), reference.transform(values), rtol=1e-10, atol=1e-12
        )
    scaled = rng.normal(0.5, 1.0, size=(40, 3))
    np.testing.assert_allclose(
        mine.inverse_transform(scaled),
        reference.inverse_transform(scaled),
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(mine.inverse_transform(mine.transform(other)), other, rtol=1e-12)


@pytest.mark.parametrize("method", IDS)
def test_json_round_trip_is_exact(labelled, method):
    scaler = _fit_on_train(method, labelled)
    text = json.dumps(scaler.to_dict())
    restored = scaler_from_dict(json.loads(text))
    assert type(restored) is type(scaler)
    assert restored.to_dict() == scaler.to_dict()
    assert restored.to_dict()["method"] == method
    np.testing.assert_array_equal(restored.offset_, scaler.offset_)
    np.testing.assert_array_equal(restored.scale_, scaler.scale_)
    values = labelled.drop(columns="split").to_numpy()
    np.testing.assert_array_equal(restored.transform(values), scaler.transform(values))
    np.testing.assert_array_equal(
        restored.inverse_transform(values), scaler.inverse_transform(values)
    )


def test_from_dict_ignores_extra_keys_written_by_the_scale_stage():
    state = {"columns": ["close"], "method": "minmax", "offset": [2.0], "scale": [4.0]}
    scaler = scaler_from_dict(state)
    assert isinstance(scaler, MinMaxScaler)
    np.testing.assert_array_equal(scaler.transform([[4.0]]), [[0.5]])


@pytest.mark.parametrize("constant", [5.0, 0.0, 0.1, 123.456])
@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_constant_column_does_not_divide_by_zero(ours, theirs, constant):
    """A constant column gets scale 1 (as in scikit-learn), even when float rounding makes
    its computed spread a tiny non-zero number instead of an exact 0."""
    train = np.column_stack([np.full(7, constant), np.arange(7.0)])
    scaler = ours().fit(train)
    assert scaler.scale_[0] == 1.0
    probe = np.array([[constant, 3.0], [constant + 1.0, 9.0]])
    scaled = scaler.transform(probe)
    assert np.isfinite(scaled).all()
    reference = theirs().fit(train)
    np.testing.assert_allclose(scaled, reference.transform(probe), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), probe, rtol=1e-12)


@pytest.mark.parametrize("method", IDS)
def test_inverse_transform_column_matches_inverse_transform(method):
    rng = np.random.default_rng(5)
    scaler = make_scaler(method).fit(rng.normal(50, 10, size=(30, 4)) * [1, 10, 100, 0.1])
    scaled = rng.normal(size=(25, 4))
    full = scaler.inverse_transform(scaled)
    for column in range(4):
        np.testing.assert_array_equal(
            scaler.inverse_transform_column(scaled[:, column], column), full[:, column]
        )


def test_unfitted_scaler_refuses_to_transform():
    scaler = MinMaxScaler()
    for call in (
        lambda: scaler.transform([[1.0]]),
        lambda: scaler.inverse_transform([[1.0]]),
        lambda: scaler.inverse_transform_column([1.0], 0),
        scaler.to_dict,
    ):
        with pytest.raises(RuntimeError, match="not fitted"):
            call()


def test_make_scaler_knows_exactly_the_documented_methods():
    assert set(SCALERS) == {"minmax", "standard"}
    assert isinstance(make_scaler("minmax"), MinMaxScaler)
    assert isinstance(make_scaler("standard"), StandardScaler)
