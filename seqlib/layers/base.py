from keras import regularizers

from seqlib.layers.rnn import RNN

_LAYER_KEYS = ("name", "trainable", "dtype")


class CellLayer(RNN):
    """A drop-in sequence layer built around one seqlib cell class.

    Subclasses set `cell_class` and take the same constructor arguments as their
    `keras.layers` namesake. The cell's hyper-parameters are readable on the layer
    (`layer.units`, `layer.dropout`, ...) and flattened into `get_config()`, so
    the config has the same keys as keras' and `from_config` rebuilds the layer.
    """

    cell_class = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.cell_attributes:
            if not hasattr(cls, name):
                setattr(cls, name, property(lambda self, n=name: getattr(self.cell, n)))

    cell_attributes = (
        "units",
        "activation",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "seed",
    )

    def __init__(
        self,
        cell_kwargs,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        activity_regularizer=None,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # keras' per-step kernel choice; not used here
        cell = self.cell_class(
            **cell_kwargs,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=f"{self.cell_class.__name__[:-4].lower()}_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            use_cudnn=use_cudnn,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in _LAYER_KEYS}
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
