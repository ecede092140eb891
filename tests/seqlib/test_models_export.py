"""The models' decoding loops export: beam search and sampling run inside a
SavedModel, in a process that cannot import the project."""

import numpy as np
import tensorflow as tf

from seqlib.export import export_for_serving
from seqlib.export.testing import run_isolated
from seqlib.models import LanguageModel, Seq2Seq


class _Translator(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None), tf.int32, name="source"),
            tf.TensorSpec((), tf.float32, name="length_penalty"),
        ]
    )
    def serve(self, source, length_penalty):
        result = self.model.generate(
            source, method="beam", beam_width=3, max_length=8, length_penalty=length_penalty
        )
        return {"ids": result.ids[:, 0], "scores": result.scores[:, 0]}


class _Generator(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None), tf.int32, name="prefix"),
            tf.TensorSpec((), tf.float32, name="temperature"),
            tf.TensorSpec((), tf.int32, name="seed"),
        ]
    )
    def serve(self, prefix, temperature, seed):
        result = self.model.generate(prefix, length=12, temperature=temperature, seed=seed)
        return {"ids": result.ids}


def test_seq2seq_beam_search_serves_without_the_project(tmp_path):
    model = Seq2Seq(20, 25, embedding_dim=8, units=6, attention="bahdanau", reverse_source=True)
    source = np.random.default_rng(0).integers(3, 20, (4, 6)).astype("int32")
    source[0, 4:] = 0
    module = _Translator(model)
    expected = module.serve(tf.constant(source), tf.constant(0.6))
    path = export_for_serving(module, tmp_path, "translation")
    served = run_isolated(path, {"source": source, "length_penalty": np.float32(0.6)})
    np.testing.assert_array_equal(served["ids"], expected["ids"])
    np.testing.assert_allclose(served["scores"], expected["scores"], atol=1e-5)


def test_language_model_sampling_serves_without_the_project(tmp_path):
    model = LanguageModel(vocab_size=11, embedding_dim=5, units=7, num_layers=2)
    prefix = np.array([[1, 2, 3], [4, 5, 6]], "int32")
    module = _Generator(model)
    expected = module.serve(tf.constant(prefix), tf.constant(0.8), tf.constant(7))
    path = export_for_serving(module, tmp_path, "music")
    served = run_isolated(
        path, {"prefix": prefix, "temperature": np.float32(0.8), "seed": np.int32(7)}
    )
    # Stateless sampling with the same seed draws the same tokens in both processes.
    np.testing.assert_array_equal(served["ids"], expected["ids"])
