"""Deployment targets: where an approved model version is provisioned to serve, and released from.

The deploy worker picks a target by name (make_target), calls provision() and records what it returns, or the
DeploymentError's code and message; terminating a deployment calls release().
"""

from __future__ import annotations

from ledger.settings import Settings

from .asg import AsgTarget
from .aws import AwsSettings
from .base import SIZES, TAG_KEY, DeploymentError, DeploymentSpec, Provisioned, Size, Target
from .ec2 import Ec2Target
from .lambda_ import LambdaTarget

__all__ = ["SIZES", "TAG_KEY", "AsgTarget", "AwsSettings", "DeploymentError", "DeploymentSpec", "Ec2Target",
           "LambdaTarget", "Provisioned", "Size", "Target", "make_target"]

_AWS = {t.name: t for t in (Ec2Target, AsgTarget, LambdaTarget)}


def make_target(name: str, settings: Settings) -> Target:
    """The target of that name, configured from the settings. A missing setting is reported when the target is used
    to provision (target_not_configured), so a deployment made before it was unset can still be released."""
    try:
        kind = _AWS[name]
    except KeyError:
        raise DeploymentError("unknown_target", f"no deployment target is named {name!r}; "
                              f"known: {', '.join(sorted(_AWS))}") from None
    return kind(AwsSettings.from_settings(settings))
