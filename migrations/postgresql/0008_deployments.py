"""Deployments and routing: read models of deployments and routing configs, and the versions each deployment serves."""

from migrations.read_models import rebuilt

__depends__ = {"0007_training"}

steps = rebuilt("bigint", grant_to="govledger_service")
