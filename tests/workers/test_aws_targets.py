"""The AWS deployment targets against a real AWS-compatible HTTP endpoint: moto's standalone server, started for this
module with AMI validation on, so an unknown image is refused as AWS refuses it (the session's s3_endpoint runs
without it). A small local proxy in front of moto answers one chosen call with an AWS error (throttling, a spent client
token) in that call's protocol. Nothing here talks to AWS.

What is checked is read back from the endpoint with plain boto3 clients, by the deployment's tag: what exists after a
provision, and that nothing does after a release, a failure, a cancellation.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import io
import json
import os
import re
import subprocess
import threading
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ledger.artifacts import TRUSTED_TYPES
from ledger.settings import Settings
from workers.targets import (SIZES, TAG_KEY, AsgTarget, AwsSettings, DeploymentError, DeploymentSpec, Ec2Target,
                             LambdaTarget, make_target)
from workers.targets.aws import translate
from workers.targets.boot import boot_script
from workers.targets.lambda_ import package

from ..s3_server import CREDENTIALS, free_port, moto_server

TARGETS = {"aws-ec2": Ec2Target, "aws-asg": AsgTarget, "aws-lambda": LambdaTarget}
#: The resource whose creation a simulated crash or a cancellation waits for, per target: the last one each creates.
LAST_CREATED = {"aws-ec2": "ec2-instance", "aws-asg": "autoscaling-group", "aws-lambda": "lambda-function"}
KEYS = {k.lower(): v for k, v in CREDENTIALS.items() if k != "AWS_DEFAULT_REGION"}


@dataclass(frozen=True)
class World:
    url: str
    ami: str
    bucket: str
    role: str

    def client(self, service: str) -> Any:
        return _client(self.url, service)


@functools.cache
def _client(url: str, service: str) -> Any:  # a client takes a tenth of a second to make, and live() asks often
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **KEYS)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:  # read by the server when it starts
            env.setenv("MOTO_ENABLE_AMI_VALIDATION", "true")
            url = stack.enter_context(moto_server())
        bare = World(url, "", f"govledger-artifacts-{uuid.uuid4().hex[:12]}", "")
        # One of the images moto knows, as an operator would pick one (all 1,300 take seconds to list).
        images = bare.client("ec2").describe_images(Owners=["amazon"], Filters=[{"Name": "name",
                                                                                 "Values": ["amzn2-ami-hvm-*"]}])["Images"]
        ami = next(i["ImageId"] for i in images if i.get("State") == "available")
        bare.client("s3").create_bucket(Bucket=bare.bucket)
        role = bare.client("iam").create_role(RoleName=f"govledger-fn-{uuid.uuid4().hex[:8]}",
                                             AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
        yield replace(bare, ami=ami, role=role["Role"]["Arn"])


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The targets take credentials from the normal AWS chain: here, the environment."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(world: World) -> AwsSettings:
    return AwsSettings(endpoint_url=world.url, retries=1, ami=world.ami, artifact_bucket=world.bucket,
                       lambda_role=world.role, poll_interval=0.01, ready_timeout=10)


def make_spec(tmp_path: Path, size: str = "small") -> DeploymentSpec:
    artifact = tmp_path / f"{uuid.uuid4().hex}.skops"
    artifact.write_bytes(os.urandom(2048))
    return DeploymentSpec(deployment_id=uuid.uuid4(), version_id=uuid.uuid4(), model_id=uuid.uuid4(),
                          artifact_hash=hashlib.sha256(artifact.read_bytes()).hexdigest(), size=size,
                          artifact_path=artifact)


def quietly(fraction: float, message: str) -> None:
    assert 0.0 <= fraction <= 1.0 and message


def never() -> bool:
    return False


def live(world: World, deployment_id: uuid.UUID) -> Counter[str]:
    """What the endpoint holds tagged for the deployment that still exists (terminated instances do not count)."""
    tag = [{"Name": f"tag:{TAG_KEY}", "Values": [str(deployment_id)]}]
    ec2, found = world.client("ec2"), Counter[str]()
    for reservation in ec2.describe_instances(Filters=tag)["Reservations"]:
        found["ec2-instance"] += sum(i["State"]["Name"] not in ("shutting-down", "terminated")
                                     for i in reservation["Instances"])
    found["ec2-launch-template"] += len(ec2.describe_launch_templates(Filters=tag)["LaunchTemplates"])
    found["autoscaling-group"] += len(world.client("autoscaling").describe_auto_scaling_groups(Filters=tag)
                                      ["AutoScalingGroups"])
    lam = world.client("lambda")
    for function in (f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]):
        if lam.list_tags(Resource=function["FunctionArn"])["Tags"].get(TAG_KEY) == str(deployment_id):
            found["lambda-function"] += 1
    return +found  # only what exists


def tags_of(pairs: list[dict[str, Any]]) -> dict[str, str]:
    return {p["Key"]: p["Value"] for p in pairs if p["Key"].startswith("govledger:")}


def expected_tags(spec: DeploymentSpec) -> dict[str, str]:
    return {TAG_KEY: str(spec.deployment_id), "govledger:version": str(spec.version_id),
            "govledger:model": str(spec.model_id)}


# -- each target provisions what its size says, tagged, and releases all of it ------------------------------------

def test_an_ec2_deployment_runs_one_tagged_instance_of_its_size_that_checks_the_artifact_before_serving(
        world, settings, tmp_path):
    spec = make_spec(tmp_path, "medium")
    target = Ec2Target(settings)
    provisioned = target.provision(spec, quietly, never)

    [resource] = provisioned.resources
    assert resource["type"] == "ec2-instance"
    ec2 = world.client("ec2")
    [instance] = ec2.describe_instances(InstanceIds=[resource["id"]])["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "running" and instance["InstanceType"] == "t3.medium"
    assert instance["ImageId"] == world.ami and tags_of(instance["Tags"]) == expected_tags(spec)
    assert instance["ClientToken"] == f"govledger-{spec.deployment_id}-0"
    assert provisioned.endpoint == f"http://{instance['PrivateIpAddress']}:8080"
    user_data = ec2.describe_instance_attribute(InstanceId=resource["id"], Attribute="userData")["UserData"]["Value"]
    script = base64.b64decode(user_data).decode()
    assert f"s3://{world.bucket}/govledger/artifacts/{spec.artifact_hash}" in script
    assert f'!= "{spec.artifact_hash}" ]; then' in script and "exit 1" in script
    assert f"serve-model --artifact $artifact --sha256 {spec.artifact_hash} --port 8080" in script
    uploaded = world.client("s3").get_object(Bucket=world.bucket, Key=f"govledger/artifacts/{spec.artifact_hash}")
    assert uploaded["Body"].read() == spec.artifact_path.read_bytes()

    assert target.release(spec.deployment_id) == [resource]
    assert live(world, spec.deployment_id) == Counter()
    assert target.release(spec.deployment_id) == []


@pytest.mark.parametrize("size", sorted(SIZES))
def test_an_asg_deployment_is_a_launch_template_and_a_group_bounded_by_its_size(world, settings, tmp_path, size):
    spec = make_spec(tmp_path, size)
    target = AsgTarget(settings)
    provisioned = target.provision(spec, quietly, never)

    bounds = SIZES[size]
    types = [r["type"] for r in provisioned.resources]
    assert types == ["ec2-launch-template", "autoscaling-group"] and provisioned.endpoint is None
    template_id, group_name = (r["id"] for r in provisioned.resources)
    ec2, autoscaling = world.client("ec2"), world.client("autoscaling")
    [version] = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)["LaunchTemplateVersions"]
    assert version["LaunchTemplateData"]["InstanceType"] == bounds.instance_type
    assert version["LaunchTemplateData"]["ImageId"] == world.ami
    [template] = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"]
    assert tags_of(template["Tags"]) == expected_tags(spec)
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (bounds.asg_min, bounds.asg_max,
                                                                               bounds.replicas)
    assert tags_of(group["Tags"]) == expected_tags(spec) and all(t["PropagateAtLaunch"] for t in group["Tags"])
    in_service = [i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"]
    assert len(in_service) == bounds.replicas
    assert {i["InstanceType"] for i in group["Instances"]} == {bounds.instance_type}
    assert live(world, spec.deployment_id) == Counter({"ec2-launch-template": 1, "autoscaling-group": 1,
                                                       "ec2-instance": bounds.replicas})

    released = target.release(spec.deployment_id)
    assert {r["type"] for r in released} >= {"ec2-launch-template", "autoscaling-group"}
    assert live(world, spec.deployment_id) == Counter()
    states = {i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=in_service)["Reservations"]
              for i in r["Instances"]}
    assert states <= {"shutting-down", "terminated"}
    assert target.release(spec.deployment_id) == []


def test_an_asg_deployment_spans_the_configured_subnets(world, settings, tmp_path):
    subnets = tuple(sorted(s["SubnetId"] for s in world.client("ec2").describe_subnets()["Subnets"])[:2])
    spec = make_spec(tmp_path)
    target = AsgTarget(replace(settings, subnets=subnets))
    provisioned = target.provision(spec, quietly, never)
    [group] = world.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[provisioned.resources[1]["id"]])["AutoScalingGroups"]
    assert set(group["VPCZoneIdentifier"].split(",")) == set(subnets)
    target.release(spec.deployment_id)
    assert live(world, spec.deployment_id) == Counter()


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_lambda_deployment_is_one_tagged_function_of_its_size_whose_package_points_at_the_artifact(
        world, settings, tmp_path, size):
    spec = make_spec(tmp_path, size)
    target = LambdaTarget(settings)
    provisioned = target.provision(spec, quietly, never)

    [resource] = provisioned.resources
    assert resource["type"] == "lambda-function"
    lam = world.client("lambda")
    config = lam.get_function_configuration(FunctionName=resource["id"])
    assert config["MemorySize"] == SIZES[size].lambda_memory_mb
    assert (config["Runtime"], config["Handler"], config["Role"]) == ("python3.12", "lambda_handler.handler", world.role)
    assert config["Environment"]["Variables"] == {"ARTIFACT_BUCKET": world.bucket, "ARTIFACT_SHA256": spec.artifact_hash,
                                                  "ARTIFACT_KEY": f"govledger/artifacts/{spec.artifact_hash}"}
    assert tags_of([{"Key": k, "Value": v} for k, v in lam.list_tags(Resource=resource["id"])["Tags"].items()]) \
        == expected_tags(spec)
    url = lam.get_function_url_config(FunctionName=resource["id"])
    assert provisioned.endpoint == url["FunctionUrl"] and url["AuthType"] == "AWS_IAM"
    code = package()
    stored = world.client("s3").get_object(Bucket=world.bucket,
                                           Key=f"govledger/lambda/{hashlib.sha256(code).hexdigest()}.zip")
    assert stored["Body"].read() == code

    assert target.release(spec.deployment_id) == [resource]
    assert live(world, spec.deployment_id) == Counter()
    assert target.release(spec.deployment_id) == []


def test_the_lambda_package_holds_the_handler_and_the_trusted_types_and_is_the_same_bytes_each_time():
    code = package()
    assert package() == code
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        assert archive.namelist() == ["lambda_handler.py", "trusted_types.json"]
        assert json.loads(archive.read("trusted_types.json")) == sorted(TRUSTED_TYPES)
        assert b"def handler(" in archive.read("lambda_handler.py")


# -- failures leave nothing behind ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["aws-ec2", "aws-asg"])
def test_an_unknown_image_fails_with_aws_invalid_ami_and_leaves_nothing(world, settings, tmp_path, name):
    spec = make_spec(tmp_path)
    target = TARGETS[name](replace(settings, ami="ami-0123456789abcdef0"))
    with pytest.raises(DeploymentError) as failed:
        target.provision(spec, quietly, never)
    assert failed.value.code == "aws_invalid_ami" and "ami-0123456789abcdef0" in failed.value.message
    assert live(world, spec.deployment_id) == Counter()


def test_moto_itself_refuses_an_instance_of_an_unknown_image(world):
    """The endpoint rejects RunInstances as AWS does (MOTO_ENABLE_AMI_VALIDATION), and that error is aws_invalid_ami."""
    with pytest.raises(ClientError) as refused:
        world.client("ec2").run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)
    assert translate(refused.value).code == "aws_invalid_ami"  # type: ignore[union-attr]


class FailingProxy:
    """A local HTTP proxy to the endpoint that answers the calls `fails` picks with an AWS error (a throttling one, say)
    in the call's own protocol, counting them in `hits`; it forwards every other request unchanged."""

    def __init__(self, upstream: str, fails: Callable[[str, str, bytes], bool], status: int,
                 headers: dict[str, str], body: str) -> None:
        self.hits = 0
        proxy = self
        target = urlsplit(upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers S3's "Expect: 100-continue" at once, not after a 1 s timeout

            def log_message(self, *_: object) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fails(self.command, self.path, body):
                    proxy.hits += 1
                    self._answer(status, list(headers.items()), body_text.encode())
                    return
                upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    upstream_conn.request(self.command, self.path, body=body,
                                          headers={k: v for k, v in self.headers.items() if k.lower() != "expect"})
                    reply = upstream_conn.getresponse()
                    self._answer(reply.status, [(k, v) for k, v in reply.getheaders()
                                                if k.lower() not in ("transfer-encoding", "connection",
                                                                     "content-length")], reply.read())
                finally:
                    upstream_conn.close()

            def _answer(self, code: int, pairs: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(code)
                for k, v in pairs:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        body_text = body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[FailingProxy]:
        thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def query_action(action: str, **fields: str) -> Callable[[str, str, bytes], bool]:
    """EC2 and Auto Scaling speak the query protocol: the action, and the other parameters, are form fields."""
    def matches(method: str, path: str, body: bytes) -> bool:
        if method != "POST" or path != "/":  # S3 puts artifacts' bytes, never form-encoded
            return False
        form = parse_qs(body.decode(errors="replace"))
        return form.get("Action") == [action] and all(form.get(k) == [v] for k, v in fields.items())
    return matches


THROTTLES = {
    # EC2's own XML error shape; AWS answers 503 RequestLimitExceeded.
    "aws-ec2": (query_action("RunInstances"), 503, {"Content-Type": "text/xml"},
                '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
                "<Message>Request limit exceeded.</Message></Error></Errors><RequestID>r-1</RequestID></Response>"),
    # Auto Scaling's query-protocol error: 400 Throttling. The launch template exists by then.
    "aws-asg": (query_action("CreateAutoScalingGroup"), 400, {"Content-Type": "text/xml"},
                '<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
                "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId>"
                "</ErrorResponse>"),
    # Lambda speaks REST-JSON: 429 with the error type in a header. The function exists by then.
    "aws-lambda": (lambda method, path, body: method == "POST" and re.fullmatch(r"/2021-10-31/functions/[^/]+/url",
                                                                                 path) is not None,
                   429, {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException"},
                   json.dumps({"Type": "User", "Reason": "CallerRateLimitExceeded", "message": "Rate exceeded"})),
}


@pytest.mark.parametrize("name", sorted(THROTTLES))
def test_a_throttled_call_fails_with_aws_throttled_and_releases_what_was_created_before_it(
        world, settings, tmp_path, name):
    spec = make_spec(tmp_path)
    with FailingProxy(world.url, *THROTTLES[name]).running() as proxy:
        target = TARGETS[name](replace(settings, endpoint_url=proxy.url))
        with pytest.raises(DeploymentError) as failed:
            target.provision(spec, quietly, never)
    assert failed.value.code == "aws_throttled" and proxy.hits == 1
    assert live(world, spec.deployment_id) == Counter()


def test_a_throttled_call_is_tried_as_many_times_as_the_retries_setting_says_then_fails(world, settings, tmp_path):
    spec = make_spec(tmp_path)
    with FailingProxy(world.url, *THROTTLES["aws-asg"]).running() as proxy:
        target = AsgTarget(replace(settings, endpoint_url=proxy.url, retries=2))
        with pytest.raises(DeploymentError) as failed:
            target.provision(spec, quietly, never)
    assert failed.value.code == "aws_throttled" and proxy.hits == 2
    assert live(world, spec.deployment_id) == Counter()


def test_an_unreachable_endpoint_fails_with_aws_unreachable_and_no_credentials_in_the_message(settings, tmp_path):
    target = LambdaTarget(replace(settings, endpoint_url=f"http://127.0.0.1:{free_port()}", connect_timeout=1))
    with pytest.raises(DeploymentError) as failed:
        target.provision(make_spec(tmp_path), quietly, never)
    assert failed.value.code == "aws_unreachable"
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in failed.value.message
    assert CREDENTIALS["AWS_ACCESS_KEY_ID"] not in failed.value.message


@pytest.mark.parametrize(("code", "expected"), [
    ("InvalidAMIID.NotFound", "aws_invalid_ami"), ("InvalidAMIID.Malformed", "aws_invalid_ami"),
    ("Throttling", "aws_throttled"), ("ThrottlingException", "aws_throttled"),
    ("RequestLimitExceeded", "aws_throttled"), ("TooManyRequestsException", "aws_throttled"),
    ("UnauthorizedOperation", "aws_error")])
def test_aws_error_codes_become_stable_codes_with_the_aws_code_in_the_message_and_no_key_id(code, expected):
    error = ClientError({"Error": {"Code": code, "Message": "denied for AKIAIOSFODNN7EXAMPLE"}}, "RunInstances")
    translated = translate(error)
    assert translated is not None and translated.code == expected
    assert code in translated.message and "AKIAIOSFODNN7EXAMPLE" not in translated.message
    unreachable = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert unreachable is not None and unreachable.code == "aws_unreachable"


def test_a_fault_mid_provisioning_releases_what_was_created_and_is_raised_as_it_was(world, settings, tmp_path):
    spec = make_spec(tmp_path)

    def broken(fraction: float, message: str) -> None:
        if live(world, spec.deployment_id):
            raise RuntimeError("a bug in the progress reporter")

    with pytest.raises(RuntimeError, match="a bug in the progress reporter"):
        Ec2Target(settings).provision(spec, broken, never)
    assert live(world, spec.deployment_id) == Counter()


# -- a worker killed mid-way: the next attempt adopts instead of duplicating ---------------------------------------

@pytest.mark.parametrize("name", sorted(TARGETS))
def test_an_attempt_after_a_worker_died_mid_provisioning_adopts_what_it_created_instead_of_duplicating_it(
        world, settings, tmp_path, name):
    spec = make_spec(tmp_path, "small")
    target = TARGETS[name](settings)

    def killed(fraction: float, message: str) -> None:
        if live(world, spec.deployment_id)[LAST_CREATED[name]]:
            raise SystemExit("killed")  # like a SIGKILL: nothing runs after it, nothing is released

    with pytest.raises(SystemExit):
        target.provision(spec, killed, never)
    left = live(world, spec.deployment_id)
    assert left[LAST_CREATED[name]] == 1  # the dead attempt's resources are still there, tagged

    reports: list[str] = []
    provisioned = TARGETS[name](settings).provision(spec, lambda f, m: reports.append(m), never)
    assert any("adopted" in m for m in reports)
    assert live(world, spec.deployment_id) == left  # nothing more: one instance, one group, one function
    assert LAST_CREATED[name] in {r["type"] for r in provisioned.resources}
    target.release(spec.deployment_id)
    assert live(world, spec.deployment_id) == Counter()


def test_an_ec2_attempt_that_finds_two_instances_of_its_deployment_keeps_the_oldest_and_terminates_the_other(
        world, settings, tmp_path):
    spec = make_spec(tmp_path)
    tags = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in expected_tags(spec).items()]}]
    ec2 = world.client("ec2")
    first, second = (ec2.run_instances(ImageId=world.ami, MinCount=1, MaxCount=1, TagSpecifications=tags)
                     ["Instances"][0]["InstanceId"] for _ in range(2))
    provisioned = Ec2Target(settings).provision(spec, quietly, never)
    assert provisioned.resources[0]["id"] in (first, second)
    assert live(world, spec.deployment_id) == Counter({"ec2-instance": 1})
    Ec2Target(settings).release(spec.deployment_id)


def test_an_ec2_deployment_launched_and_released_before_takes_the_next_client_token(world, settings, tmp_path):
    """AWS answers a client token whose instance was terminated with IdempotentInstanceTerminated (moto does not keep
    tokens, so the proxy answers for it): provisioning the deployment again takes the next token."""
    spec = make_spec(tmp_path)
    spent = f"govledger-{spec.deployment_id}-0"
    terminated = (query_action("RunInstances", ClientToken=spent), 400, {"Content-Type": "text/xml"},
                  '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>IdempotentInstanceTerminated'
                  "</Code><Message>The client token has been used by a terminated instance.</Message></Error>"
                  "</Errors><RequestID>r-1</RequestID></Response>")
    with FailingProxy(world.url, *terminated).running() as proxy:
        target = Ec2Target(replace(settings, endpoint_url=proxy.url))
        provisioned = target.provision(spec, quietly, never)
    assert proxy.hits == 1
    [instance] = world.client("ec2").describe_instances(
        InstanceIds=[provisioned.resources[0]["id"]])["Reservations"][0]["Instances"]
    assert instance["ClientToken"] == f"govledger-{spec.deployment_id}-1"
    Ec2Target(settings).release(spec.deployment_id)
    assert live(world, spec.deployment_id) == Counter()


def test_the_boot_script_serves_the_artifact_whose_hash_is_the_ledgers_and_refuses_any_other(tmp_path):
    spec = make_spec(tmp_path)
    good = spec.artifact_path.read_bytes()
    script = tmp_path / "user-data.sh"
    script.write_text(boot_script(spec, "artifacts", f"govledger/artifacts/{spec.artifact_hash}", "us-east-1"))
    served = tmp_path / "bucket-object"
    bin_dir, boot_dir, units = tmp_path / "bin", tmp_path / "boot", tmp_path / "units"
    for d in (bin_dir, boot_dir, units):
        d.mkdir()
    calls = tmp_path / "calls"
    fakes = {"aws": f'echo "aws $*" >> {calls}; for last; do :; done; cp {served} "$last"',  # aws s3 cp SRC DEST
             "systemctl": f'echo "systemctl $*" >> {calls}', "govledger": "exit 0"}
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GOVLEDGER_BOOT_DIR": str(boot_dir), "GOVLEDGER_UNIT_DIR": str(units)}

    served.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit flipped in the bucket
    refused = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "does not match the ledger's SHA-256" in refused.stderr
    assert not list(units.iterdir()) and not list(boot_dir.iterdir()) and "systemctl" not in calls.read_text()

    served.write_bytes(good)
    accepted = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert accepted.returncode == 0, accepted.stderr
    artifact = boot_dir / f"{spec.artifact_hash}.skops"
    assert artifact.read_bytes() == good
    unit = (units / "govledger-model.service").read_text()
    assert f"{bin_dir}/govledger serve-model --artifact {artifact} --sha256 {spec.artifact_hash} --port 8080" in unit
    assert f"aws s3 cp --only-show-errors --region us-east-1 s3://artifacts/govledger/artifacts/{spec.artifact_hash}" \
        in calls.read_text()
    assert "systemctl enable --now govledger-model.service" in calls.read_text()


# -- a cancelled deployment stops and releases ----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_deployment_stopped_mid_provisioning_is_cancelled_and_leaves_nothing(world, settings, tmp_path, name):
    spec = make_spec(tmp_path)

    def should_stop() -> bool:
        return bool(live(world, spec.deployment_id))

    with pytest.raises(DeploymentError) as failed:
        TARGETS[name](settings).provision(spec, quietly, should_stop)
    assert failed.value.code == "cancelled"
    assert live(world, spec.deployment_id) == Counter()


# -- settings -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "missing"), [("aws-ec2", "GOVLEDGER_AWS_AMI"), ("aws-asg", "GOVLEDGER_AWS_AMI"),
                                               ("aws-lambda", "GOVLEDGER_AWS_LAMBDA_ROLE")])
def test_a_target_missing_a_required_setting_is_not_configured_and_names_the_variable(world, tmp_path, name, missing):
    configured = Settings(aws_endpoint_url=world.url, aws_artifact_bucket=world.bucket)
    target = make_target(name, configured)
    assert target.name == name
    with pytest.raises(DeploymentError) as failed:
        target.provision(make_spec(tmp_path), quietly, never)
    assert failed.value.code == "target_not_configured" and missing in failed.value.message


def test_make_target_reads_the_aws_settings_and_refuses_an_unknown_name(world, tmp_path):
    configured = Settings(aws_endpoint_url=world.url, aws_region="us-east-1", aws_artifact_bucket=world.bucket,
                          aws_lambda_role=world.role, aws_subnets=" subnet-a, subnet-b ,", aws_security_groups="sg-1",
                          aws_retries=2)
    target = make_target("aws-lambda", configured)
    assert isinstance(target, LambdaTarget)
    assert target.settings.subnets == ("subnet-a", "subnet-b") and target.settings.security_groups == ("sg-1",)
    assert target.settings.retries == 2 and target.settings.endpoint_url == world.url
    with pytest.raises(DeploymentError) as unknown:
        make_target("aws-ecs", configured)
    assert unknown.value.code == "unknown_target"


def test_a_spec_whose_hash_is_not_a_sha256_is_refused_before_anything_is_created(tmp_path):
    with pytest.raises(DeploymentError) as refused:
        DeploymentSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "abc; rm -rf /", "small", tmp_path / "a")
    assert refused.value.code == "invalid_spec"
