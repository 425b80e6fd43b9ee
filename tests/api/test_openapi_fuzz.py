"""Schemathesis over the API's own OpenAPI document, bounded in time: generated requests (valid and invalid) on every
operation, with a manager's key and a superadmin's, must never meet a server error or a response the document does
not describe. Runs on PostgreSQL, the production database (text there cannot hold NUL, which generators love)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.deps import Services
from domain.application import Governance
from ledger.database import Database
from ledger.subjects import SubjectVault
from ledger_tools.note import generate_signer
from projections.runner import Projector
from tests.domain.world import MemoryArtifacts
from tests.projections.story import story

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
KEYS: dict[str, str] = {}
# The document needs no database; the services behind it are filled in by the fixture before each operation's run.
SERVICES = Services(None, None, None)  # type: ignore[arg-type]
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SERVICES))


@pytest.fixture
def served(pg_url, signer):
    db = Database.from_url(pg_url)
    KEYS.clear()
    story(db, keys=KEYS)
    SERVICES.governance = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts(), vault=SubjectVault(db))
    SERVICES.db, SERVICES.verifier = db, signer.verifier
    SERVICES.receipt_signer = generate_signer("test.govledger/receipts")  # every API node has one (govledger init)
    Projector(db, SERVICES.governance).catch_up()


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_meets_a_server_error_or_an_undocumented_response(case, served):
    for user in ("mia", "root"):
        case.call_and_validate(headers={"Authorization": f"Bearer {KEYS[user]}"}, checks=CHECKS)
