"""Training: the job queue, and read models that show jobs, dataset profiles and each version's training job."""

from migrations.job_queue import steps as job_queue_steps
from migrations.read_models import rebuilt

__depends__ = {"0004_worker_status"}

steps = rebuilt("INTEGER") + job_queue_steps("INTEGER")
