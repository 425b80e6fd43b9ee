"""What an EC2 instance of a deployment runs when it first boots: fetch the artifact, check it is the ledger's, serve it.

The image (GOVLEDGER_AWS_AMI) must carry systemd, the AWS CLI, sha256sum and govledger; the instance's role
(GOVLEDGER_AWS_INSTANCE_PROFILE) must be allowed to read the artifact from the bucket.
"""

from __future__ import annotations

import shlex

from .base import DeploymentSpec

PORT = 8080


def boot_script(spec: DeploymentSpec, bucket: str, key: str, region: str) -> str:
    """The user data: a shell script that refuses to serve bytes whose SHA-256 is not the ledger's hash, and otherwise
    leaves the model server to systemd, which restarts it after a crash or a reboot. (Its two directories can be
    moved by environment variables, which cloud-init never sets, so a test can run it.)"""
    source = shlex.quote(f"s3://{bucket}/{key}")
    digest = spec.artifact_hash  # 64 hex digits, checked by DeploymentSpec
    return f"""#!/bin/sh
# govledger deployment {spec.deployment_id}: model version {spec.version_id}
set -eu
dir=${{GOVLEDGER_BOOT_DIR:-/var/lib/govledger}}
units=${{GOVLEDGER_UNIT_DIR:-/etc/systemd/system}}
artifact="$dir/{digest}.skops"
mkdir -p "$dir"
aws s3 cp --only-show-errors --region {shlex.quote(region)} {source} "$artifact.part"
# The ledger approved these bytes and no others: a copy that differs is never served.
if [ "$(sha256sum "$artifact.part" | cut -d' ' -f1)" != "{digest}" ]; then
    echo "govledger: the artifact at {source} does not match the ledger's SHA-256 {digest}; not serving it" >&2
    rm -f "$artifact.part"
    exit 1
fi
mv "$artifact.part" "$artifact"
server=$(command -v govledger)
cat > "$units/govledger-model.service" <<UNIT
[Unit]
Description=govledger model server (deployment {spec.deployment_id})
After=network-online.target

[Service]
ExecStart=$server serve-model --artifact $artifact --sha256 {digest} --port {PORT}
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now govledger-model.service
"""
