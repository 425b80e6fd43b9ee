"""Every read model: registry (models, versions, datasets, users), compliance scores, audit trail and jobs."""

from migrations.read_models import steps as read_model_steps

__depends__ = {"0002_registry_projection"}

steps = read_model_steps("INTEGER")
