"""The aws-ec2 target: one EC2 instance that fetches the artifact, checks its hash and serves it on port 8080.

An earlier attempt's instance is found by its tag and adopted; RunInstances carries a client token derived from the
deployment id, so a launch AWS accepted but did not yet list (describe calls are eventually consistent) is returned
again rather than launched twice.
"""

from __future__ import annotations

import zlib
from typing import Any
from uuid import UUID

from .aws import (Aws, AwsSettings, check_stop, error_code, released_on_failure, tag_list, translated,
                  upload_artifact, wait_until)
from .base import TAG_KEY, DeploymentError, DeploymentSpec, Provisioned, Report, ShouldStop
from .boot import PORT, boot_script

#: States of an instance that still exists (and costs): shutting-down and terminated ones are gone.
LIVE = ("pending", "running", "stopping", "stopped")
#: Client tokens a deployment may use: AWS refuses a token whose instance was terminated (IdempotentInstanceTerminated),
#: so each provisioning after a release takes the next one.
TOKEN_GENERATIONS = 20


class Ec2Target:
    name = "aws-ec2"

    def __init__(self, settings: AwsSettings, aws: Aws | None = None) -> None:
        self.settings = settings
        self.aws = aws or Aws(settings)

    def provision(self, spec: DeploymentSpec, report: Report, should_stop: ShouldStop) -> Provisioned:
        self.settings.require(self.name, "ami", "artifact_bucket")
        with released_on_failure(self.release, spec.deployment_id):
            check_stop(should_stop)
            instance = self._adopt(spec.deployment_id)
            if instance is not None:
                report(0.3, f"adopted instance {instance['InstanceId']} from an earlier attempt")
            else:
                check_image(self.aws, str(self.settings.ami))
                report(0.05, "uploading the artifact")
                key = upload_artifact(self.aws, spec)
                check_stop(should_stop)
                instance = self._launch(spec, key)
                report(0.3, f"launched instance {instance['InstanceId']}")
            instance_id = instance["InstanceId"]
            running: dict[str, Any] = {}

            def ready() -> bool:
                running.update(self._instance(instance_id) or {})
                return running_or_failed(running)

            wait_until(ready, f"instance {instance_id} to run", self.settings, report, should_stop, (0.3, 0.95))
            address = running.get("PrivateIpAddress") or running.get("PrivateDnsName")
            if not address:
                raise DeploymentError("aws_error", f"instance {instance_id} runs without a private address")
            report(1.0, f"instance {instance_id} is running")
            return Provisioned([{"type": "ec2-instance", "id": instance_id}], f"http://{address}:{PORT}")

    def release(self, deployment_id: UUID) -> list[dict[str, str]]:
        ids = [i["InstanceId"] for i in tagged_instances(self.aws, deployment_id)]
        if ids:
            with translated():
                self.aws.client("ec2").terminate_instances(InstanceIds=ids)
        return [{"type": "ec2-instance", "id": i} for i in ids]

    def _adopt(self, deployment_id: UUID) -> dict[str, Any] | None:
        """The earlier attempt's instance, if one is pending or running; any other instance of the deployment (a
        stopped one, or a duplicate) is terminated, so exactly one serves."""
        instances = tagged_instances(self.aws, deployment_id)
        usable = [i for i in instances if i["State"]["Name"] in ("pending", "running")]
        keep = usable[0] if usable else None
        extra = [i["InstanceId"] for i in instances if i is not keep]
        if extra:
            with translated():
                self.aws.client("ec2").terminate_instances(InstanceIds=extra)
        return keep

    def _launch(self, spec: DeploymentSpec, key: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        s = self.settings
        tags = tag_list(spec.tags)
        request: dict[str, Any] = dict(
            ImageId=s.ami, InstanceType=spec.sizing.instance_type, MinCount=1, MaxCount=1,
            UserData=boot_script(spec, str(s.artifact_bucket), key, s.region),
            TagSpecifications=[{"ResourceType": kind, "Tags": tags} for kind in ("instance", "volume")],
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},  # IMDSv2 only
            **network(s, spec.deployment_id))
        for generation in range(TOKEN_GENERATIONS):
            with translated():
                try:
                    reply = self.aws.client("ec2").run_instances(ClientToken=client_token(spec.deployment_id, generation),
                                                                 **request)
                except ClientError as e:
                    if error_code(e) == "IdempotentInstanceTerminated":
                        continue
                    raise
            return dict(reply["Instances"][0])
        raise DeploymentError("aws_error", f"deployment {spec.deployment_id} was launched and released "
                              f"{TOKEN_GENERATIONS} times; deploy it anew")

    def _instance(self, instance_id: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        with translated():
            try:
                reservations = self.aws.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
            except ClientError as e:
                if error_code(e) == "InvalidInstanceID.NotFound":  # launched, not listed yet
                    return None
                raise
        return next((dict(i) for r in reservations for i in r["Instances"]), None)


def running_or_failed(instance: dict[str, Any]) -> bool:
    """Whether an instance runs; raises for one that stopped on the way (out of capacity, a bad volume…)."""
    state = instance.get("State", {}).get("Name")
    if state in (None, "pending"):
        return False
    if state == "running":
        return True
    why = instance.get("StateReason", {}).get("Message") or "no reason given"
    raise DeploymentError("aws_error", f"instance {instance.get('InstanceId')} is {state} instead of running: {why}")


def client_token(deployment_id: UUID, generation: int) -> str:
    return f"govledger-{deployment_id}-{generation}"


def tagged_instances(aws: Aws, deployment_id: UUID) -> list[dict[str, Any]]:
    """The deployment's instances that still exist, oldest first."""
    with translated():
        pages = aws.client("ec2").get_paginator("describe_instances").paginate(
            Filters=[{"Name": f"tag:{TAG_KEY}", "Values": [str(deployment_id)]},
                     {"Name": "instance-state-name", "Values": list(LIVE)}])
        instances = [dict(i) for page in pages for r in page["Reservations"] for i in r["Instances"]]
    return sorted(instances, key=lambda i: (i["LaunchTime"], i["InstanceId"]))


def check_image(aws: Aws, ami: str) -> None:
    """Refuse an image that does not exist or is not available before anything is created (an Auto Scaling group
    would accept it and fail to launch later)."""
    with translated():
        images = aws.client("ec2").describe_images(ImageIds=[ami])["Images"]
    if not images or images[0].get("State", "available") != "available":
        raise DeploymentError("aws_invalid_ami", f"image {ami} (GOVLEDGER_AWS_AMI) is not available")


def network(settings: AwsSettings, deployment_id: UUID | None) -> dict[str, Any]:
    """Subnet, security groups and instance role of an instance. The subnet is picked by the deployment id, so
    deployments spread over the configured subnets and a retry lands where the first attempt did; without an id
    (a launch template, whose group spans the subnets) there is none."""
    placed: dict[str, Any] = {}
    if settings.subnets and deployment_id is not None:
        placed["SubnetId"] = settings.subnets[zlib.crc32(deployment_id.bytes) % len(settings.subnets)]
    if settings.security_groups:
        placed["SecurityGroupIds"] = list(settings.security_groups)
    if settings.instance_profile:
        kind = "Arn" if settings.instance_profile.startswith("arn:") else "Name"
        placed["IamInstanceProfile"] = {kind: settings.instance_profile}
    return placed

