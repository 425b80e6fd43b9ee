"""Deployments in the domain: who may deploy what, the provisioning job's one outcome, the version's record of it,
and termination — refused while a routing config still sends traffic, final once done."""

from __future__ import annotations

import pytest

from domain.deployments import DeploymentStatus
from domain.errors import Forbidden, IllegalTransition, InvalidInput, PreconditionFailed
from domain.models import Status
from domain.roles import Role

from .world import make_world


def last_refusal(w):
    notification = w.app.recorder.select_notifications(start=w.events(), limit=1)[0]
    return w.app.repository.get(notification.originator_id)


def test_a_manager_deploys_an_approved_version_and_a_worker_provisions_it():
    w = make_world()
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version, target="aws-ec2", size="medium").id
    queued = w.app.deployment(deployment)
    assert (queued.status, queued.target, queued.size) == (DeploymentStatus.REQUESTED, "aws-ec2", "medium")
    assert w.app.get_version(w.manager, version).status is Status.APPROVED, "nothing serves it yet"
    w.app.start_deployment(deployment, worker="w1", attempt=1, lease_seconds=30)
    assert w.app.deployment(deployment).status is DeploymentStatus.PROVISIONING
    w.app.complete_deployment(deployment, worker="w1", attempt=1, endpoint="http://10.0.0.7:8080",
                              resources=[{"type": "ec2-instance", "id": "i-0abc"}])
    served = w.app.deployment(deployment)
    assert served.status is DeploymentStatus.ACTIVE and served.endpoint == "http://10.0.0.7:8080"
    assert served.result["deployment_id"] == str(deployment)
    assert w.app.get_version(w.manager, version).status is Status.DEPLOYED
    assert w.app.get_version(w.manager, version).deployments == [str(deployment)]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.MANAGER])
def test_only_managers_deploy_and_every_refusal_is_recorded(role):
    w = make_world()
    version = w.approved_version()
    before = w.events()
    with pytest.raises(Forbidden):
        w.app.request_deployment(w.actor(role), version)
    assert w.events() == before + 1 and last_refusal(w).action == "deploy, terminate and change routing"


@pytest.mark.parametrize(("target", "size", "message"), [("gcp", "small", "unknown deployment target"),
                                                         ("local", "huge", "unknown deployment size"),
                                                         ("local\x00", "small", "unknown deployment target")])
def test_an_unknown_target_or_size_is_refused_and_nothing_is_recorded(target, size, message):
    w = make_world()
    version = w.approved_version()
    before = w.events()
    with pytest.raises(InvalidInput, match=message):
        w.app.request_deployment(w.manager, version, target=target, size=size)
    assert w.events() == before


def test_a_version_that_is_not_approved_is_not_deployed():
    w = make_world()
    for version in (w.staged_version(), w.validated_version()):
        with pytest.raises(IllegalTransition, match="cannot deploy"):
            w.app.request_deployment(w.manager, version)


def test_a_version_retired_while_it_was_provisioned_is_not_recorded_as_deployed():
    w = make_world()
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version).id
    w.app.start_deployment(deployment, worker="w1", attempt=1, lease_seconds=30)
    w.app.retire(w.manager, version, reason="withdrawn by the model owner")
    with pytest.raises(PreconditionFailed, match="retired while it was being deployed"):
        w.app.complete_deployment(deployment, worker="w1", attempt=1, endpoint=None, resources=[])
    assert w.app.deployment(deployment).status is DeploymentStatus.PROVISIONING, "the worker releases, then fails it"


def test_only_the_latest_attempt_records_the_outcome():
    w = make_world()
    deployment = w.app.request_deployment(w.manager, w.approved_version()).id
    w.app.start_deployment(deployment, worker="w1", attempt=1, lease_seconds=30)
    w.app.start_deployment(deployment, worker="w2", attempt=2, lease_seconds=30)  # w1's lease ran out
    with pytest.raises(IllegalTransition):
        w.app.complete_deployment(deployment, worker="w1", attempt=1, endpoint=None, resources=[])
    w.app.complete_deployment(deployment, worker="w2", attempt=2, endpoint=None, resources=[])
    assert w.app.deployment(deployment).status is DeploymentStatus.ACTIVE


def test_a_version_deployed_twice_is_terminated_only_with_its_last_deployment():
    w = make_world()
    version = w.approved_version()
    first, second = w.deploy(version), w.deploy(version, target="aws-lambda")
    w.terminate(first)
    assert w.app.get_version(w.manager, version).status is Status.DEPLOYED
    w.terminate(second)
    assert w.app.get_version(w.manager, version).status is Status.TERMINATED
    assert w.app.deployment(first).status is DeploymentStatus.TERMINATED


def test_terminating_stops_serving_at_once_and_the_release_is_a_job():
    w = make_world()
    deployment = w.deploy(w.approved_version())
    termination = w.app.terminate_deployment(w.manager, deployment, reason="replaced by version 2").id
    assert w.app.deployment(deployment).status is DeploymentStatus.TERMINATING
    assert not w.app.deployment(deployment).serving
    job = w.app.termination(termination)
    assert (job.deployment_id, job.reason, job.state.value) == (deployment, "replaced by version 2", "queued")
    with pytest.raises(IllegalTransition, match="cannot be cancelled"):
        w.app.cancel_deployment(w.manager, termination)


def test_a_failed_release_can_be_requested_again():
    w = make_world()
    deployment = w.deploy(w.approved_version())
    first = w.app.terminate_deployment(w.manager, deployment, reason="cost").id
    w.app.start_termination(first, worker="w1", attempt=1, lease_seconds=30)
    w.app.fail_termination(first, worker="w1", attempt=1, code="aws_throttled", reason="Throttling on TerminateInstances")
    assert w.app.deployment(deployment).status is DeploymentStatus.TERMINATION_FAILED
    second = w.app.terminate_deployment(w.manager, deployment, reason="cost, again").id
    assert second != first
    w.app.start_termination(second, worker="w1", attempt=1, lease_seconds=30)
    w.app.complete_termination(second, worker="w1", attempt=1, released=[{"type": "ec2-instance", "id": "i-1"}])
    assert w.app.deployment(deployment).status is DeploymentStatus.TERMINATED
    with pytest.raises(IllegalTransition, match="stays terminated"):
        w.app.terminate_deployment(w.manager, deployment, reason="once more")


def test_a_deployment_still_routed_cannot_be_terminated_and_the_refusal_names_the_config():
    w = make_world()
    version = w.approved_version()
    deployment = w.deploy(version)
    config = w.app.create_routing_config(w.manager, body={"name": "retail loans", "rules": [],
                                                          "default_version_id": str(version)}).id
    before = w.events()
    with pytest.raises(PreconditionFailed, match=f"'retail loans' \\({config}\\)"):
        w.app.terminate_deployment(w.manager, deployment, reason="cost")
    assert w.events() == before + 1, "the refusal only"
    assert w.app.deployment(deployment).status is DeploymentStatus.ACTIVE


def test_a_provisioning_is_cancelled_not_terminated_and_a_failed_one_can_be_cleaned_up():
    w = make_world()
    version = w.approved_version()
    running = w.app.request_deployment(w.manager, version).id
    w.app.start_deployment(running, worker="w1", attempt=1, lease_seconds=30)
    with pytest.raises(IllegalTransition, match="cancelled, not terminated"):
        w.app.terminate_deployment(w.manager, running, reason="wrong size")
    w.app.fail_deployment(running, worker="w1", attempt=1, code="aws_throttled", reason="Throttling")
    cleanup = w.app.terminate_deployment(w.manager, running, reason="release whatever is tagged for it").id
    w.app.start_termination(cleanup, worker="w1", attempt=1, lease_seconds=30)
    w.app.complete_termination(cleanup, worker="w1", attempt=1, released=[])
    assert w.app.deployment(running).status is DeploymentStatus.TERMINATED
    assert w.app.get_version(w.manager, version).status is Status.APPROVED, "it never served"


def test_another_manager_cannot_cancel_a_provisioning_they_did_not_request():
    w = make_world()
    w.app.create_user(w.admin, "max", "manager")
    other = w.app.authenticate(w.app.issue_api_key(w.admin, "max", "t").api_key)
    deployment = w.app.request_deployment(w.manager, w.approved_version()).id
    with pytest.raises(Forbidden, match="only its requester"):
        w.app.cancel_deployment(other, deployment)


def test_ending_one_deployment_while_another_is_on_its_way_does_not_end_the_version():
    w = make_world()
    version = w.approved_version()
    local = w.deploy(version)
    blue_green = w.app.request_deployment(w.manager, version, target="aws-ec2").id
    w.terminate(local)
    assert w.app.get_version(w.manager, version).status is Status.DEPLOYED, "another deployment is on its way"
    w.app.start_deployment(blue_green, worker="w1", attempt=1, lease_seconds=30)
    w.app.complete_deployment(blue_green, worker="w1", attempt=1, endpoint=None, resources=[])
    assert w.app.get_version(w.manager, version).deployments == [str(blue_green)]
    w.terminate(blue_green)
    assert w.app.get_version(w.manager, version).status is Status.TERMINATED


def test_a_version_whose_last_hope_fails_is_terminated_with_it():
    w = make_world()
    version = w.approved_version()
    local = w.deploy(version)
    replacement = w.app.request_deployment(w.manager, version, target="aws-lambda").id
    w.terminate(local)
    w.app.start_deployment(replacement, worker="w1", attempt=1, lease_seconds=30)
    w.app.fail_deployment(replacement, worker="w1", attempt=1, code="aws_throttled", reason="Throttling")
    assert w.app.get_version(w.manager, version).status is Status.TERMINATED, "nothing serves it and nothing will"


def test_a_deployment_already_being_terminated_is_refused_saying_so():
    w = make_world()
    deployment = w.deploy(w.approved_version())
    w.app.terminate_deployment(w.manager, deployment, reason="cost")
    with pytest.raises(IllegalTransition, match="already being terminated"):
        w.app.terminate_deployment(w.manager, deployment, reason="again")
