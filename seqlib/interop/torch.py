"""Loading PyTorch `nn.LSTM` / `nn.GRU` / `nn.RNN` weights into Keras-layout layers.

The functions take a PyTorch state dict — a mapping from parameter names to numpy arrays or
torch tensors — and set the weights of a layer with the Keras weight layout
(`keras.layers.LSTM/GRU/SimpleRNN` or `seqlib.layers.LSTM/GRU/SimpleRNN`): a `kernel` of shape
`(input_dim, k * units)`, a `recurrent_kernel` of shape `(units, k * units)` and a `bias`.
This module never imports torch: a tensor is converted with `.detach().cpu()` and
`np.asarray`, so a state dict saved as numpy arrays loads on a machine without torch.

Conventions (H = hidden size / units, k = the layer index, `_reverse` = the backward
direction of a bidirectional module):

| | PyTorch | Keras |
|---|---|---|
| names | `weight_ih_l{k}[_reverse]`, `weight_hh_l{k}[_reverse]`, `bias_ih_l{k}[_reverse]`, `bias_hh_l{k}[_reverse]` | `kernel`, `recurrent_kernel`, `bias` of one layer (`forward_layer` / `backward_layer` of a `Bidirectional`) |
| input weights | `weight_ih`: `(k·H, input)`, `W x` | `kernel`: `(input, k·H)`, `x W` — transposed |
| recurrent weights | `weight_hh`: `(k·H, H)` | `recurrent_kernel`: `(H, k·H)` — transposed |
| LSTM gate order | i, f, g, o | i, f, c, o — the same (g is the cell candidate c) |
| LSTM bias | `bias_ih` + `bias_hh`, both `(4H,)` | one `bias` `(4H,)` = their sum (they are always added together) |
| GRU gate order | r, z, n | z, r, h — the first two blocks swap |
| GRU bias | `bias_ih`, `bias_hh`, both `(3H,)` | `bias` `(2, 3H)`: row 0 = input bias, row 1 = recurrent bias; needs `reset_after=True` |
| GRU candidate | n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) | `reset_after=True`: the same; `reset_after=False` applies r to h *before* the matmul, a different function — rejected |
| GRU update | h' = (1 − z) ⊙ n + z ⊙ h | h' = z ⊙ h + (1 − z) ⊙ h̃ — the same |
| RNN (`nn.RNN`) bias | `bias_ih` + `bias_hh` | one `bias` `(H,)` = their sum |
| `bias=False` | no `bias_*` entries | bias set to zeros (or a layer built with `use_bias=False`) |
| activations | tanh and sigmoid, fixed | `activation="tanh"`, `recurrent_activation="sigmoid"` (the defaults) — checked |
| `num_layers` | suffix `_l{k}` | one Keras layer per k, stacked with `return_sequences=True` |
| `bidirectional` | suffix `_reverse`; outputs concatenated | `Bidirectional(layer, merge_mode="concat")` |
| `batch_first` | layout of the input only | irrelevant (Keras is always batch first) |
| `proj_size > 0` | `weight_hr_l{k}` | unsupported — rejected with a `ValueError` |
| initial state | zeros | zeros |
| final states | `h_n`, `c_n`: `(num_layers · directions, batch, H)`, index `2k + d` | the states returned with `return_state=True`, per layer and direction |

Example:

```python
torch_lstm = torch.nn.LSTM(4, 6, num_layers=2, batch_first=True)
layers = [keras.layers.LSTM(6, return_sequences=True) for _ in range(2)]
load_torch_rnn_stack(layers, torch_lstm.state_dict())
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Number of gate blocks in the weight matrices, per PyTorch module.
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
_KIND_BY_GATES = {gates: kind for kind, gates in _GATES.items()}

# Keras' GRU has the blocks (z, r, h); PyTorch's has (r, z, n). Index = Keras block,
# value = PyTorch block.
_GRU_TORCH_BLOCK_FOR_KERAS_BLOCK = (1, 0, 2)

_LAYER_KEY = re.compile(r"^weight_ih_l(\d+)(_reverse)?$")


def _to_numpy(value: Any) -> np.ndarray:
    """Converts a numpy array or a torch tensor (without importing torch) to a numpy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def _strip_prefix(state_dict: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Keeps the entries under `prefix` (e.g. `"encoder.rnn."`) with the prefix removed."""
    if not isinstance(state_dict, Mapping):
        raise ValueError(
            "Expected a mapping of parameter names to arrays or tensors (a PyTorch "
            f"state dict). Received: state_dict of type {type(state_dict).__name__}"
        )
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


def _torch_params(
    state_dict: Mapping[str, Any], kind: str, layer_index: int, reverse: bool, prefix: str
) -> dict[str, np.ndarray | None]:
    """Fetches and checks the four tensors of one layer and direction of a PyTorch module."""
    params = _strip_prefix(state_dict, prefix)
    suffix = f"_l{layer_index}" + ("_reverse" if reverse else "")
    if f"weight_hr{suffix}" in params:
        raise ValueError(
            "LSTMs with proj_size > 0 are not supported: Keras' LSTM has no projection of "
            "the hidden state, so the state dict (which has "
            f"'{prefix}weight_hr{suffix}') cannot be represented. Received: proj_size="
            f"{_to_numpy(params[f'weight_hr{suffix}']).shape[0]}"
        )
    names = {
        "w_ih": f"weight_ih{suffix}",
        "w_hh": f"weight_hh{suffix}",
        "b_ih": f"bias_ih{suffix}",
        "b_hh": f"bias_hh{suffix}",
    }
    missing = [names[n] for n in ("w_ih", "w_hh") if names[n] not in params]
    if missing:
        available = sorted(params) or sorted(state_dict)
        raise ValueError(
            f"The state dict has no {', '.join(prefix + m for m in missing)} (layer_index="
            f"{layer_index}, reverse={reverse}, prefix={prefix!r}). Expected the parameters "
            f"of a torch nn.{kind}. Received keys: {available}"
        )
    has_ih, has_hh = names["b_ih"] in params, names["b_hh"] in params
    if has_ih != has_hh:
        raise ValueError(
            f"Expected both or neither of {prefix}{names['b_ih']} and {prefix}{names['b_hh']}"
            f". Received keys: {sorted(params)}"
        )
    out = {n: (_to_numpy(params[key]) if key in params else None) for n, key in names.items()}
    w_ih, w_hh = out["w_ih"], out["w_hh"]
    if w_hh.ndim != 2 or w_ih.ndim != 2:
        raise ValueError(
            f"Expected 2-D weight_ih and weight_hh. Received: shapes {w_ih.shape} and {w_hh.shape}"
        )
    hidden = w_hh.shape[1]
    gates = _GATES[kind]
    if w_hh.shape[0] != gates * hidden or w_ih.shape[0] != gates * hidden:
        found = _KIND_BY_GATES.get(w_hh.shape[0] // max(hidden, 1))
        hint = f" (these look like the weights of a torch nn.{found})" if found else ""
        raise ValueError(
            f"A torch nn.{kind} with hidden_size={hidden} has weight_ih and weight_hh with "
            f"{gates * hidden} rows{hint}. Received: weight_ih{suffix} {w_ih.shape}, "
            f"weight_hh{suffix} {w_hh.shape}"
        )
    return out


def _activation_name(fn: Any) -> str | None:
    return getattr(fn, "__name__", None) if fn is not None else None


def _check_activations(layer: Any, kind: str) -> None:
    """PyTorch hard-codes tanh / sigmoid, so the Keras layer must use the same functions."""
    expected = {"activation": "tanh"}
    if kind != "RNN":
        expected["recurrent_activation"] = "sigmoid"
    for attr, name in expected.items():
        got = _activation_name(getattr(layer, attr, None))
        # nn.RNN(nonlinearity="relu") has the same state dict, so let relu through there.
        allowed = {name, "relu"} if kind == "RNN" else {name}
        if got is not None and got not in allowed:
            raise ValueError(
                f"A torch nn.{kind} uses {attr}={name!r}; the Keras layer would compute a "
                f"different function. Received: {attr}={got!r} on layer {layer.name!r}"
            )


def _ensure_built(layer: Any, input_dim: int) -> None:
    if not layer.built:
        layer.build((None, None, input_dim))


def _is_bidirectional(layer: Any) -> bool:
    return hasattr(layer, "forward_layer") and hasattr(layer, "backward_layer")


def _keras_weights(
    kind: str, layer: Any, params: dict[str, np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Converts one layer's PyTorch tensors to Keras' (kernel, recurrent_kernel, bias)."""
    w_ih, w_hh, b_ih, b_hh = params["w_ih"], params["w_hh"], params["b_ih"], params["b_hh"]
    hidden = w_hh.shape[1]
    if kind == "GRU":
        # Reorder the (r, z, n) blocks of every gate axis into Keras' (z, r, h).
        order = np.concatenate(
            [np.arange(b * hidden, (b + 1) * hidden) for b in _GRU_TORCH_BLOCK_FOR_KERAS_BLOCK]
        )  # (3H,)
        w_ih, w_hh = w_ih[order], w_hh[order]
        b_ih = None if b_ih is None else b_ih[order]
        b_hh = None if b_hh is None else b_hh[order]
    kernel = w_ih.T  # (input_dim, gates * H)
    recurrent_kernel = w_hh.T  # (H, gates * H)
    if kind == "GRU":
        if b_ih is None:
            bias = np.zeros((2, 3 * hidden), dtype=w_ih.dtype)
        else:
            bias = np.stack([b_ih, b_hh])  # (2, 3H): row 0 input, row 1 recurrent
    else:
        # LSTM and RNN add b_ih and b_hh to the same pre-activation, so only the sum matters.
        bias = np.zeros(w_ih.shape[0], w_ih.dtype) if b_ih is None else b_ih + b_hh  # (gates*H,)
    if not getattr(layer, "use_bias", True):
        if b_ih is not None and (np.any(b_ih) or np.any(b_hh)):
            raise ValueError(
                f"The torch nn.{kind} has biases but the Keras layer {layer.name!r} was built "
                "with use_bias=False; build it with use_bias=True (the default). "
                "Received: use_bias=False"
            )
        bias = None
    return kernel, recurrent_kernel, bias


def _load_one_direction(
    kind: str,
    layer: Any,
    state_dict: Mapping[str, Any],
    layer_index: int,
    reverse: bool,
    prefix: str,
) -> None:
    params = _torch_params(state_dict, kind, layer_index, reverse, prefix)
    input_dim = params["w_ih"].shape[1]
    hidden = params["w_hh"].shape[1]
    units = getattr(layer, "units", None)
    if units is not None and units != hidden:
        raise ValueError(
            f"The torch nn.{kind} has hidden_size={hidden} (layer {layer_index}"
            f"{', reverse' if reverse else ''}) but the Keras layer {layer.name!r} has "
            f"units={units}. Received: units={units}"
        )
    _check_activations(layer, kind)
    if kind == "GRU" and getattr(layer, "reset_after", True) is False:
        raise ValueError(
            "A torch nn.GRU applies the reset gate after the recurrent matmul, "
            "n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), which is Keras' "
            f"GRU(reset_after=True); layer {layer.name!r} applies it before the matmul, a "
            "different function that these weights cannot reproduce. Build the layer with "
            "reset_after=True (the default). Received: reset_after=False"
        )
    _ensure_built(layer, input_dim)
    kernel, recurrent_kernel, bias = _keras_weights(kind, layer, params)
    new = [kernel, recurrent_kernel] + ([] if bias is None else [bias])
    current = layer.get_weights()
    names = ["kernel", "recurrent_kernel", "bias"]
    if len(current) != len(new) or any(c.shape != n.shape for c, n in zip(current, new)):
        have = {names[i]: tuple(w.shape) for i, w in enumerate(current[:3])}
        want = {names[i]: tuple(w.shape) for i, w in enumerate(new)}
        raise ValueError(
            f"Cannot load torch nn.{kind} weights (layer {layer_index}"
            f"{', reverse' if reverse else ''}, input size {input_dim}, hidden size {hidden}) "
            f"into layer {layer.name!r}: expected Keras weights {want}. Received: {have}"
        )
    layer.set_weights([w.astype(c.dtype) for w, c in zip(new, current)])


def _load(
    kind: str,
    layer: Any,
    state_dict: Mapping[str, Any],
    layer_index: int,
    reverse: bool,
    prefix: str,
) -> Any:
    if _is_bidirectional(layer):
        if reverse:
            raise ValueError(
                "For a Bidirectional wrapper both directions are loaded at once (forward_layer "
                "from the plain names, backward_layer from the '_reverse' names), so reverse "
                "must be False. Received: reverse=True"
            )
        _load_one_direction(kind, layer.forward_layer, state_dict, layer_index, False, prefix)
        # The wrapper's own build only builds unbuilt sub-layers, so the weights set here stay.
        _load_one_direction(kind, layer.backward_layer, state_dict, layer_index, True, prefix)
        return layer
    _load_one_direction(kind, layer, state_dict, layer_index, reverse, prefix)
    return layer


def load_torch_lstm(
    layer: Any,
    state_dict: Mapping[str, Any],
    layer_index: int = 0,
    reverse: bool = False,
    prefix: str = "",
) -> Any:
    """Sets a Keras-layout LSTM's weights from one layer of a torch `nn.LSTM`.

    Args:
        layer: A `keras.layers.LSTM` / `seqlib.layers.LSTM` (built or not; an unbuilt one is
            built for the torch input size), or a `Bidirectional` wrapper around one, whose
            `forward_layer` and `backward_layer` get the plain and the `_reverse` weights.
        state_dict: Parameter name → numpy array or torch tensor, e.g. `lstm.state_dict()`.
        layer_index: Which torch layer (`_l{k}` suffix) to load.
        reverse: Load the `_reverse` direction of a bidirectional module into a plain layer
            (which should then run with `go_backwards=True`).
        prefix: Prefix of the module's names in a larger model's state dict, e.g. `"rnn."`.

    Returns:
        The layer, with its weights set.
    """
    return _load("LSTM", layer, state_dict, layer_index, reverse, prefix)


def load_torch_gru(
    layer: Any,
    state_dict: Mapping[str, Any],
    layer_index: int = 0,
    reverse: bool = False,
    prefix: str = "",
) -> Any:
    """Sets a Keras-layout GRU's weights from one layer of a torch `nn.GRU`.

    The layer must use `reset_after=True` (Keras' default): that is the GRU variant torch
    implements; `reset_after=False` raises a `ValueError`.

    Args:
        layer: A `keras.layers.GRU` / `seqlib.layers.GRU`, or a `Bidirectional` around one.
        state_dict: Parameter name → numpy array or torch tensor, e.g. `gru.state_dict()`.
        layer_index: Which torch layer (`_l{k}` suffix) to load.
        reverse: Load the `_reverse` direction into a plain layer.
        prefix: Prefix of the module's names in a larger model's state dict.

    Returns:
        The layer, with its weights set.
    """
    return _load("GRU", layer, state_dict, layer_index, reverse, prefix)


def load_torch_simple_rnn(
    layer: Any,
    state_dict: Mapping[str, Any],
    layer_index: int = 0,
    reverse: bool = False,
    prefix: str = "",
) -> Any:
    """Sets a Keras-layout SimpleRNN's weights from one layer of a torch `nn.RNN`.

    The state dict does not record `nonlinearity`; the Keras layer's `activation` must match
    it (`"tanh"`, torch's default, or `"relu"`).

    Args:
        layer: A `keras.layers.SimpleRNN` / `seqlib.layers.SimpleRNN`, or a `Bidirectional`.
        state_dict: Parameter name → numpy array or torch tensor, e.g. `rnn.state_dict()`.
        layer_index: Which torch layer (`_l{k}` suffix) to load.
        reverse: Load the `_reverse` direction into a plain layer.
        prefix: Prefix of the module's names in a larger model's state dict.

    Returns:
        The layer, with its weights set.
    """
    return _load("RNN", layer, state_dict, layer_index, reverse, prefix)


def load_torch_rnn_stack(
    layers: Sequence[Any], state_dict: Mapping[str, Any], prefix: str = ""
) -> list[Any]:
    """Loads a whole (possibly multi-layer, possibly bidirectional) torch RNN module.

    The module type is read from the weight shapes (4 gate blocks: `nn.LSTM`, 3: `nn.GRU`,
    1: `nn.RNN`). There must be one Keras layer per torch layer; for a bidirectional module
    each must be a `Bidirectional` wrapper (with `merge_mode="concat"`, as torch
    concatenates), otherwise none may be.

    Args:
        layers: The Keras layers, first to last; all but the last need
            `return_sequences=True` to feed the next one as torch does.
        state_dict: Parameter name → numpy array or torch tensor, e.g. `module.state_dict()`.
        prefix: Prefix of the module's names in a larger model's state dict, e.g. `"rnn."`.

    Returns:
        The layers, as a list, with their weights set.
    """
    params = _strip_prefix(state_dict, prefix)
    found = {}
    for key in params:
        match = _LAYER_KEY.match(key)
        if match:
            found.setdefault(int(match.group(1)), set()).add(bool(match.group(2)))
    if not found:
        raise ValueError(
            f"The state dict has no weight_ih_l0 (prefix={prefix!r}); expected the parameters "
            f"of a torch nn.LSTM, nn.GRU or nn.RNN. Received keys: {sorted(state_dict)}"
        )
    num_layers = max(found) + 1
    if sorted(found) != list(range(num_layers)):
        raise ValueError(
            f"Expected torch layers 0..{num_layers - 1}. Received layer indices: {sorted(found)}"
        )
    bidirectional = any(True in dirs for dirs in found.values())
    layers = list(layers)
    if len(layers) != num_layers:
        raise ValueError(
            f"The torch module has num_layers={num_layers}; pass one Keras layer per torch "
            f"layer. Received: {len(layers)} layers"
        )
    # proj_size must be reported before the gate count, which it distorts.
    if any(k.startswith("weight_hr_l") for k in params):
        _torch_params(params, "LSTM", 0, False, "")
    w_ih, w_hh = _to_numpy(params["weight_ih_l0"]), _to_numpy(params["weight_hh_l0"])
    gates = w_ih.shape[0] // max(w_hh.shape[1], 1)
    kind = _KIND_BY_GATES.get(gates)
    if kind is None or w_ih.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(
            "Cannot tell the module type: weight_ih_l0 should have 4 (LSTM), 3 (GRU) or 1 "
            f"(RNN) times hidden_size rows. Received: weight_ih_l0 {w_ih.shape}, weight_hh_l0 "
            f"{w_hh.shape}"
        )
    for index, layer in enumerate(layers):
        if _is_bidirectional(layer) != bidirectional:
            raise ValueError(
                f"The torch module is {'' if bidirectional else 'not '}bidirectional, so "
                f"layer {index} should {'' if bidirectional else 'not '}be a Bidirectional "
                f"wrapper. Received: {type(layer).__name__} {layer.name!r}"
            )
        if bidirectional and getattr(layer, "merge_mode", "concat") != "concat":
            raise ValueError(
                "torch concatenates the two directions; use Bidirectional(merge_mode="
                f"'concat'). Received: merge_mode={layer.merge_mode!r} on layer {index}"
            )
        if index < num_layers - 1 and getattr(layer, "return_sequences", True) is False:
            raise ValueError(
                f"Layer {index} feeds layer {index + 1}, so it needs return_sequences=True. "
                f"Received: return_sequences=False on {layer.name!r}"
            )
        _load(kind, layer, params, index, False, "")
    return layers
