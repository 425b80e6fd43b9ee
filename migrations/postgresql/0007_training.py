"""Training: the job queue, and read models that show jobs, dataset profiles and each version's training job."""

from migrations.job_queue import steps as job_queue_steps
from migrations.read_models import rebuilt

__depends__ = {"0005_least_privilege"}

steps = rebuilt("bigint", grant_to="govledger_service") + job_queue_steps("bigint", grant_to="govledger_service")
