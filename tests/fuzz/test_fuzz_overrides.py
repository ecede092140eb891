"""Fuzzing `--set key=value` (`seqlib.training.overrides.from_overrides`) on every
app's presets: an override is applied, or refused with a ValueError, the error the
command line turns into one line (`apps.common.cli.user_errors`)."""

import dataclasses
import importlib
import math

import pytest
from fuzz_files import HOSTILE_VALUES, hostile_values
from hypothesis import given
from hypothesis import strategies as st

from seqlib.training.overrides import from_overrides

APPS = ("sentiment", "stocks", "music", "translation", "captioning")


def _presets():
    out = []
    for app in APPS:
        presets = importlib.import_module(f"apps.{app}.cli").APP.presets
        out += [(app, name, config) for name, config in presets.items()]
    return out


PRESETS = _presets()


def _keys(config, prefix=""):
    keys = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            keys += _keys(value, f"{prefix}{field.name}.")
        else:
            keys.append(f"{prefix}{field.name}")
    return keys


KEYS = sorted({key for _, _, config in PRESETS for key in _keys(config)})
values = st.one_of(
    hostile_values,
    st.sampled_from(HOSTILE_VALUES).map(lambda v: f"{v},{v}"),
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["none", "null", "true", "false", "gru", "lstm", "64,64", "-M2,M2"]),
)
overrides = st.one_of(
    st.tuples(st.sampled_from(KEYS), values).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.text(max_size=30),
)


def _finite(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, tuple | list):
        return all(_finite(v) for v in value)
    if dataclasses.is_dataclass(value):
        return all(_finite(getattr(value, f.name)) for f in dataclasses.fields(value))
    return True


@given(st.sampled_from(PRESETS), st.lists(overrides, min_size=1, max_size=3))
def test_an_override_is_applied_or_refused(preset, texts):
    _, _, config = preset
    try:
        result = from_overrides(config, texts)
    except ValueError as error:
        assert str(error).strip(), "an empty message"
        return
    assert type(result) is type(config)
    assert _finite(result), f"a NaN or infinite value went in: {texts}"


# Regression tests: the shrunk examples fuzzing found, each a plain test.


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "9" * 400])
def test_a_float_field_refuses_what_is_not_a_finite_number(value):
    # Found by test_an_override_is_applied_or_refused: float() reads these as
    # NaN or infinity, and fields with no range check took them without a word
    # (music's model.dropout=nan, sample.temperature=inf, train.clipnorm=inf).
    music = dict((name, config) for app, name, config in PRESETS if app == "music")
    config = next(iter(music.values()))
    for key in ("model.dropout", "sample.temperature", "train.clipnorm"):
        with pytest.raises(ValueError, match=rf"^Expected `{key}` to be a float.*not a finite"):
            from_overrides(config, [f"{key}={value}"])
