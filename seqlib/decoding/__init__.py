"""In-graph decoding: greedy search, beam search and sampling.

Every decoder is one `tf.while_loop` of TensorFlow ops, so it runs eagerly,
inside a `tf.function` with an unknown batch size, and in a SavedModel that
decodes with no Python.

A model is handed to a decoder as a step function:

```
step_fn(ids, state, time) -> (logits, new_state)
    ids:    int32 (n,)          the previous tokens; n is the batch size, or
                                batch * beam_width in beam search
    state:  a nest (tuple, list, dict) of tensors, each with leading dim n
    time:   int32 scalar        the 0-based decoding step
    logits: float (n, vocab)    unnormalised scores of the next token
    new_state: the same nest as `state`
```

At step 0 `ids` are the `start_ids` and `state` the `initial_state`. The state
may carry constants such as encoder outputs and masks; beam search tiles it
with `tile_to_beam` (batch-major) and gathers every tensor of it along the
beam at every step.

Greedy search, beam search and sampling take two repetition guards, applied
to the logits of every step from what each sequence emitted so far
(`guard_logits`): `repetition_penalty` (CTRL's penalty on every token already
emitted; 1 is off) and `no_repeat_ngram_size` (no n-gram emitted twice; 0 is
off). Off, the decoders run the same ops as without them.

All decoders return a `DecodeResult(ids, lengths, scores)`. `ids` hold the
emitted tokens, not the start token; `lengths` count the end token; a
sequence that never emits `end_id` has length `max_length`. `end_id=None` (or
-1) means there is no end token and every sequence runs to `max_length`.
"""

from seqlib.decoding.beam_search import beam_search, gnmt_length_penalty
from seqlib.decoding.common import DecodeResult, guard_logits, tile_to_beam
from seqlib.decoding.greedy import greedy_search
from seqlib.decoding.sampling import filter_logits, sample

__all__ = [
    "DecodeResult",
    "beam_search",
    "filter_logits",
    "gnmt_length_penalty",
    "greedy_search",
    "guard_logits",
    "sample",
    "tile_to_beam",
]
