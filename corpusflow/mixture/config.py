"""Config of the mixture stage (see issue #5)."""

from __future__ import annotations

from pydantic import Field

from corpusflow.configbase import StrictModel


class MixtureStageConfig(StrictModel):
    enabled: bool = Field(False, description="Sample kept documents to a token mixture.")
