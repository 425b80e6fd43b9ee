"""The deploy workers on SQLite and PostgreSQL: a requested deployment provisioned on its target (local, and EC2,
Auto Scaling and Lambda on a real AWS-compatible endpoint), recorded on the deployment and its version; a failure
recorded with its reason and nothing left behind; a terminated deployment released."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.deployments import DeploymentStatus
from domain.jobs import JobState
from domain.models import Status
from workers.targets import AsgTarget, Ec2Target, LambdaTarget
from workers.targets.aws import AwsSettings

from .deploy_world import deploy_world
from .test_aws_targets import aws_credentials, live, world  # noqa: F401  (fixtures: a moto server with AMI checks)


def test_a_local_deployment_is_provisioned_after_its_artifact_loads_and_terminated_by_a_release(db_url, tmp_path):
    w = deploy_world(db_url, tmp_path)
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version, target="local", size="medium").id
    deployer, terminator = w.workers()
    assert deployer.step() == (None, True)
    served = w.app.deployment(deployment)
    assert served.status is DeploymentStatus.ACTIVE and served.endpoint == "/v1/predict"
    assert served.resources == [{"type": "local-serving", "id": str(deployment), "concurrency": "16", "replicas": "2"}]
    assert w.app.get_version(w.manager, version).status is Status.DEPLOYED
    termination = w.app.terminate_deployment(w.manager, deployment, reason="replaced").id
    assert terminator.step() == (None, True)
    assert w.app.termination(termination).state is JobState.SUCCEEDED
    assert w.app.deployment(deployment).status is DeploymentStatus.TERMINATED
    assert w.app.get_version(w.manager, version).status is Status.TERMINATED


def test_a_deployment_whose_artifact_was_altered_fails_and_serves_nothing(db_url, tmp_path):
    w = deploy_world(db_url, tmp_path)
    version = w.approved_version()
    stored = w.artifacts._path(w.app.get_version(w.manager, version).artifact_hash)
    stored.chmod(0o644)
    data = stored.read_bytes()
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped
    deployment = w.app.request_deployment(w.manager, version).id
    deployer, _ = w.workers()
    deployer.step()
    failed = w.app.deployment(deployment)
    assert failed.status is DeploymentStatus.FAILED and failed.error["code"] == "artifact_invalid"
    assert w.app.get_version(w.manager, version).status is Status.APPROVED


def test_a_version_retired_before_its_deployment_is_provisioned_fails_it_and_creates_nothing(db_url, tmp_path):
    w = deploy_world(db_url, tmp_path)
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version).id
    w.app.retire(w.manager, version, reason="withdrawn before it served")
    deployer, _ = w.workers()
    deployer.step()
    assert w.app.deployment(deployment).error["code"] == "illegal_transition"


def aws_targets(world):  # noqa: F811
    settings = AwsSettings(endpoint_url=world.url, retries=1, ami=world.ami, artifact_bucket=world.bucket,
                           lambda_role=world.role, poll_interval=0.01, ready_timeout=10)
    made = {"aws-ec2": Ec2Target(settings), "aws-asg": AsgTarget(settings), "aws-lambda": LambdaTarget(settings)}
    return lambda name: made[name]


@pytest.mark.parametrize(("target", "resources"), [("aws-ec2", {"ec2-instance": 1}),
                                                   ("aws-asg", {"ec2-launch-template": 1, "autoscaling-group": 1}),
                                                   ("aws-lambda", {"lambda-function": 1})])
def test_an_aws_deployment_creates_tagged_resources_and_its_termination_leaves_none(
        world, sqlite_url, tmp_path, target, resources):  # noqa: F811
    w = deploy_world(sqlite_url, tmp_path)
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version, target=target, size="small").id
    deployer, terminator = w.workers(aws_targets(world))
    deployer.step()
    served = w.app.deployment(deployment)
    assert served.status is DeploymentStatus.ACTIVE, served.error
    kinds: dict[str, int] = {}
    for resource in served.resources:
        kinds[resource["type"]] = kinds.get(resource["type"], 0) + 1
    assert kinds == resources
    assert sum(live(world, deployment).values()) >= 1, "the resources exist, tagged with the deployment"
    w.app.terminate_deployment(w.manager, deployment, reason="cost review")
    terminator.step()
    assert w.app.deployment(deployment).status is DeploymentStatus.TERMINATED
    assert sum(live(world, deployment).values()) == 0, "nothing is left"


def test_an_aws_deployment_with_an_unknown_image_fails_with_the_reason_and_leaves_nothing(world, sqlite_url, tmp_path):  # noqa: F811
    w = deploy_world(sqlite_url, tmp_path)
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version, target="aws-ec2").id
    settings = AwsSettings(endpoint_url=world.url, retries=1, ami="ami-00000000deadbeef0", artifact_bucket=world.bucket,
                           poll_interval=0.01, ready_timeout=10)
    deployer, _ = w.workers(lambda _: Ec2Target(settings))
    deployer.step()
    failed = w.app.deployment(deployment)
    assert failed.status is DeploymentStatus.FAILED and failed.error["code"] == "aws_invalid_ami"
    assert "ami-00000000deadbeef0" in failed.error["message"]
    assert sum(live(world, deployment).values()) == 0


def test_a_deployment_cancelled_while_it_is_provisioned_releases_what_was_created(world, sqlite_url, tmp_path):  # noqa: F811
    w = deploy_world(sqlite_url, tmp_path)
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version, target="aws-lambda").id
    targets = aws_targets(world)

    class CancelledOnceCreated:
        name = "aws-lambda"

        def provision(self, spec, report, should_stop):  # the requester cancels just as the function is ready
            provisioned = targets("aws-lambda").provision(spec, report, should_stop)
            w.app.cancel_deployment(w.manager, deployment, reason="wrong size")
            return provisioned

        def release(self, deployment_id: UUID):
            return targets("aws-lambda").release(deployment_id)

    deployer, _ = w.workers(lambda _: CancelledOnceCreated())
    deployer.step()
    assert w.app.deployment(deployment).status is DeploymentStatus.CANCELLED
    assert sum(live(world, deployment).values()) == 0, "the completion was refused, so the worker released it all"


def test_a_worker_that_lost_its_lease_neither_records_nor_releases_what_the_next_attempt_adopted(
        world, sqlite_url, tmp_path):  # noqa: F811
    w = deploy_world(sqlite_url, tmp_path)
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version, target="aws-ec2").id
    targets = aws_targets(world)

    class OvertakenWhileWaiting:
        name = "aws-ec2"

        def provision(self, spec, report, should_stop):
            provisioned = targets("aws-ec2").provision(spec, report, should_stop)
            # Meanwhile this worker's lease ran out and another took the job over, adopting the same instance.
            w.app.start_deployment(deployment, worker="deployer-b", attempt=2, lease_seconds=30)
            targets("aws-ec2").provision(spec, report, should_stop)
            return provisioned

        def release(self, deployment_id: UUID):
            return targets("aws-ec2").release(deployment_id)

    deployer, _ = w.workers(lambda _: OvertakenWhileWaiting())
    deployer.step()
    taken_over = w.app.deployment(deployment)
    assert (taken_over.state, taken_over.attempt, taken_over.worker) == (JobState.RUNNING, 2, "deployer-b")
    assert live(world, deployment)["ec2-instance"] == 1, "one instance, still up for the attempt that owns it"
    w.app.complete_deployment(deployment, worker="deployer-b", attempt=2, endpoint=None,
                              resources=[{"type": "ec2-instance", "id": "adopted"}])
    w.app.terminate_deployment(w.manager, deployment, reason="clean up")
    w.workers(aws_targets(world))[1].step()
    assert sum(live(world, deployment).values()) == 0
