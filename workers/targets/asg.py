"""The aws-asg target: a launch template (the EC2 target's boot script, the size's instance type) and an Auto Scaling
group of the size's bounds, in the configured subnets or else the region's zones.

Both are named after the deployment, and AWS refuses a second resource of a name: an attempt after a crash finds and
adopts what the first created, and two racing attempts cannot both create one.
"""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

from .aws import (Aws, AwsSettings, check_stop, error_code, released_on_failure, tag_list, translated, upload_artifact,
                  wait_until)
from .base import DeploymentError, DeploymentSpec, Provisioned, Report, ShouldStop
from .boot import boot_script
from .ec2 import check_image, network, tagged_instances

DELETING = "Delete in progress"
_TEMPLATE_MISSING = ("InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.NotFound")


def resource_name(deployment_id: UUID) -> str:
    return f"govledger-{deployment_id}"


class AsgTarget:
    name = "aws-asg"

    def __init__(self, settings: AwsSettings, aws: Aws | None = None) -> None:
        self.settings = settings
        self.aws = aws or Aws(settings)

    def provision(self, spec: DeploymentSpec, report: Report, should_stop: ShouldStop) -> Provisioned:
        self.settings.require(self.name, "ami", "artifact_bucket")
        name = resource_name(spec.deployment_id)
        with released_on_failure(self.release, spec.deployment_id):
            check_stop(should_stop)
            template = self._template(name)
            if template is not None:
                report(0.2, f"adopted launch template {name} from an earlier attempt")
            else:
                check_image(self.aws, str(self.settings.ami))
                report(0.05, "uploading the artifact")
                key = upload_artifact(self.aws, spec)
                check_stop(should_stop)
                template = self._create_template(spec, name, key)
                report(0.2, f"created launch template {name}")
            check_stop(should_stop)
            group = self._group(name)
            if group is not None:
                report(0.4, f"adopted Auto Scaling group {name} from an earlier attempt")
            else:
                self._create_group(spec, name, template["LaunchTemplateId"])
                report(0.4, f"created Auto Scaling group {name}")
            desired = desired_capacity(spec)
            self._wait_in_service(name, desired, report, should_stop)
            report(1.0, f"{desired} instance(s) of {name} in service")
            # An Auto Scaling group has no one address: instances come and go (a load balancer is not made here).
            return Provisioned([{"type": "ec2-launch-template", "id": template["LaunchTemplateId"]},
                                {"type": "autoscaling-group", "id": name}], None)

    def release(self, deployment_id: UUID) -> list[dict[str, str]]:
        name = resource_name(deployment_id)
        deleted: list[dict[str, str]] = []
        group = self._group(name)
        if group is not None and group.get("Status") != DELETING:
            with translated():
                try:  # ForceDelete terminates the group's instances too
                    self.aws.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
                    deleted.append({"type": "autoscaling-group", "id": name})
                except Exception as e:
                    if not group_missing(e):
                        raise
        template = self._template(name)
        if template is not None:
            with translated():
                try:
                    self.aws.client("ec2").delete_launch_template(LaunchTemplateId=template["LaunchTemplateId"])
                    deleted.append({"type": "ec2-launch-template", "id": template["LaunchTemplateId"]})
                except Exception as e:
                    if error_code(e) not in _TEMPLATE_MISSING:
                        raise
        # The group's instances carry its tags: any the group's deletion has not reached (or an orphan) ends here.
        orphans = [i["InstanceId"] for i in tagged_instances(self.aws, deployment_id)]
        if orphans:
            with translated():
                self.aws.client("ec2").terminate_instances(InstanceIds=orphans)
            deleted += [{"type": "ec2-instance", "id": i} for i in orphans]
        return deleted

    def _template(self, name: str) -> dict[str, Any] | None:
        with translated():
            try:
                templates = self.aws.client("ec2").describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
            except Exception as e:
                if error_code(e) in _TEMPLATE_MISSING:
                    return None
                raise
        return dict(templates[0]) if templates else None

    def _create_template(self, spec: DeploymentSpec, name: str, key: str) -> dict[str, Any]:
        s = self.settings
        tags = tag_list(spec.tags)
        data: dict[str, Any] = {
            "ImageId": s.ami, "InstanceType": spec.sizing.instance_type,
            # RunInstances encodes user data itself; a launch template takes it encoded.
            "UserData": base64.b64encode(boot_script(spec, str(s.artifact_bucket), key, s.region).encode()).decode(),
            "TagSpecifications": [{"ResourceType": kind, "Tags": tags} for kind in ("instance", "volume")],
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            **network(s, None),
        }
        with translated():
            try:
                reply = self.aws.client("ec2").create_launch_template(
                    LaunchTemplateName=name, LaunchTemplateData=data,
                    TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}])
            except Exception as e:
                raced = self._template(name) if error_code(e) == "InvalidLaunchTemplateName.AlreadyExistsException" else None
                if raced is None:
                    raise
                return raced  # a racing attempt made it: adopted
        return dict(reply["LaunchTemplate"])

    def _group(self, name: str) -> dict[str, Any] | None:
        with translated():
            groups = self.aws.client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return dict(groups[0]) if groups else None

    def _create_group(self, spec: DeploymentSpec, name: str, template_id: str) -> None:
        size = spec.sizing
        where: dict[str, Any] = ({"VPCZoneIdentifier": ",".join(self.settings.subnets)} if self.settings.subnets
                                 else {"AvailabilityZones": self._zones()})
        with translated():
            try:
                self.aws.client("autoscaling").create_auto_scaling_group(
                    AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
                    MinSize=size.asg_min, MaxSize=size.asg_max, DesiredCapacity=desired_capacity(spec),
                    Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name,
                           "ResourceType": "auto-scaling-group"} for k, v in sorted(spec.tags.items())],
                    **where)
            except Exception as e:
                if error_code(e) != "AlreadyExists":  # a racing attempt made it: adopted
                    raise

    def _zones(self) -> list[str]:
        with translated():
            zones = self.aws.client("ec2").describe_availability_zones()["AvailabilityZones"]
        return sorted(z["ZoneName"] for z in zones
                      if z.get("State") == "available" and z.get("ZoneType", "availability-zone") == "availability-zone")

    def _wait_in_service(self, name: str, desired: int, report: Report, should_stop: ShouldStop) -> None:
        def ready() -> bool:
            group = self._group(name)
            if group is None or group.get("Status") == DELETING:
                raise DeploymentError("aws_error", f"Auto Scaling group {name} was deleted while it started")
            return sum(i["LifecycleState"] == "InService" for i in group.get("Instances", [])) >= desired

        try:
            wait_until(ready, f"{desired} instance(s) of {name} in service", self.settings, report, should_stop,
                       (0.4, 0.95))
        except DeploymentError as e:
            # The group retries failed launches on its own; why they fail is in its activities, not in an error.
            failure = self._last_failure(name) if e.code == "aws_timeout" else None
            if failure is None:
                raise
            raise DeploymentError(e.code, f"{e.message}; its last failed launch: {failure}") from None

    def _last_failure(self, name: str) -> str | None:
        with translated():
            activities = self.aws.client("autoscaling").describe_scaling_activities(
                AutoScalingGroupName=name, MaxRecords=10)["Activities"]
        return next((a.get("StatusMessage") or a.get("Description") for a in activities
                     if a.get("StatusCode") in ("Failed", "Cancelled")), None)


def desired_capacity(spec: DeploymentSpec) -> int:
    size = spec.sizing
    return max(size.asg_min, min(size.replicas, size.asg_max))


def group_missing(e: Exception) -> bool:
    return error_code(e) == "ValidationError" and "not found" in str(e)
