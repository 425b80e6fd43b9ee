"""An API over the story of tests/projections/story.py, with the read models caught up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from domain.application import Governance
from ledger.connections import ConnectionCredentials
from ledger.database import Database
from ledger.settings import Settings
from ledger.subjects import SubjectVault
from ledger_tools.note import generate_signer
from projections.runner import Projector
from tests.domain.world import MemoryArtifacts
from tests.projections.story import story


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    app: Governance
    db: Database

    def call(self, method: str, path: str, who: str | None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, who: str, **params: Any) -> Any:
        return self.call("GET", path, who, params=params)

    def project(self) -> None:
        Projector(self.db, self.app).catch_up()

    def events(self) -> int:
        return self.app.recorder.max_notification_id()


@pytest.fixture
def api(db_url, signer) -> Api:
    db = Database.from_url(db_url)
    keys: dict[str, str] = {}
    story(db, keys=keys)
    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts(), vault=SubjectVault(db),
                     credentials=ConnectionCredentials(db, os.urandom(32)))
    Projector(db, app).catch_up()
    # S3 on a closed local port: an S3 dataset fails fast (502) instead of reaching for AWS
    settings = Settings(s3_endpoint_url="http://127.0.0.1:9")
    services = Services(app, db, signer.verifier, settings=settings, receipt_signer=generate_signer("test.govledger/receipts"))
    return Api(TestClient(create_app(services)), keys, app, db)
