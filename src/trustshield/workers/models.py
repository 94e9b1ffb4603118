"""The model a worker process scores with: built from verified bytes, once per model.

:func:`model_for` builds the model with
:func:`~trustshield.model_folder.served_model_from_files`
(every file's sha256 checked against the manifest in the bytes the caller verified, never
the folder on disk) and keeps it for this process's life, keyed by
:attr:`ModelFiles.key <trustshield.model_folder.ModelFiles.key>` (the sha256 of the
manifest, which names the model id and the sha256 of every file): a pool worker builds
its one model once, a Spark executor's Python worker once per model it is sent.
"""

from __future__ import annotations

from trustshield.model_folder import (
    ModelFiles,
    TextModel,
    TrainedModel,
    limit_threads,
    served_model_from_files,
)

_MODELS: dict[str, TrainedModel | TextModel] = {}  # this process's models by manifest sha256


def model_for(files: ModelFiles, *, threads: int | None = None) -> TrainedModel | TextModel:
    """The model these files hold, built once per process; ``threads``, when given, limits
    the threads scoring uses inside the model (tasks or processes that run side by side:
    they are the parallelism; scores do not depend on it). Raises what
    ``served_model_from_files`` raises (ModelIntegrityError on a sha256 mismatch), caching
    nothing. Tabular or text (payload, domain) models alike."""
    if files.key not in _MODELS:
        _MODELS[files.key] = served_model_from_files(files)
    model = _MODELS[files.key]
    if threads is not None:
        limit_threads(model, threads)
    return model
