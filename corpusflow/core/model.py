"""Shared pydantic base for every config model: unknown keys are errors, values validated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for config models: ``extra="forbid"`` so a misspelt key is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
