"""Per-document steps (:class:`corpusflow.stages.base.DocStep` subclasses) that run fused in one DoFn."""
