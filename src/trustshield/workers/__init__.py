"""Worker processes that hold a model: the one pool shared by the service, ``watch`` and Spark.

- :mod:`~trustshield.workers.pool`: :class:`~trustshield.workers.pool.WorkerPool`, scoring
  processes that respawn, never outlive their parent and take jobs in order (the service's
  ``--workers`` and ``watch --workers``);
- :mod:`~trustshield.workers.process`: one such process, from both sides;
- :mod:`~trustshield.workers.models`: the model a process builds from verified bytes, once
  per model (a pool worker, a Spark executor's Python worker);
- :mod:`~trustshield.workers.lifeline`: the tie that ends a worker with its parent
  (standard library only: ``import trustshield`` runs it first).

Below ``service`` and ``pipeline``, above ``model_folder`` (the import contract in
``pyproject.toml``). Importing this package loads nothing.
"""
