"""Distribution strategies by name, and which worker owns the run directory."""

import tensorflow as tf

# TensorFlow configures collective ops once per process: a second
# `MultiWorkerMirroredStrategy` cannot be created, so the first is reused.
_multiworker_strategy = None


def make_strategy(name):
    """Returns the `tf.distribute.Strategy` named by `TrainConfig.strategy`.

    Args:
        name: `"default"` (the current strategy, one device), `"mirrored"`
            (`MirroredStrategy` over all local GPUs, or the CPU) or
            `"multiworker"` (`MultiWorkerMirroredStrategy` over the cluster in
            the `TF_CONFIG` environment variable). A multi-worker strategy must
            be made before the process runs any other TensorFlow op, and only
            one can be made per process.

    Returns:
        A `tf.distribute.Strategy`.

    Example:

    >>> strategy = make_strategy("mirrored")
    >>> strategy.num_replicas_in_sync
    1
    """
    global _multiworker_strategy
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if _multiworker_strategy is None:
            try:
                _multiworker_strategy = tf.distribute.MultiWorkerMirroredStrategy()
            except RuntimeError as error:
                raise ValueError(
                    "Expected `make_strategy('multiworker')` to be called at program start, "
                    "before any TensorFlow work (such as building the datasets); `train` then "
                    f"reuses that strategy. Received: {error}"
                ) from error
        return _multiworker_strategy
    raise ValueError(
        f"Expected one of ('default', 'mirrored', 'multiworker'). Received: strategy={name!r}"
    )


def is_chief(strategy):
    """Whether this process writes the run's files.

    The chief is the `"chief"` task, or worker 0 in a cluster without one; a
    single-process strategy is always the chief.

    Args:
        strategy: A `tf.distribute.Strategy`.

    Returns:
        A bool.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    cluster = resolver.cluster_spec().as_dict()
    if not cluster:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster
