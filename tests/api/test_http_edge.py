"""The HTTP edge under attack: oversized and unauthenticated bodies, a database that cannot serve, readiness
probes that must not leak, and documentation that must render offline."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from api.guard import Limits
from domain.application import Governance
from ledger.database import Database
from ledger.subjects import SubjectVault
from tests.domain.world import MemoryArtifacts
from tests.projections.story import story

SMALL = Limits(body=4096, upload=64 * 1024, body_timeout=5)


def _client(api, limits: Limits = SMALL) -> TestClient:
    services = api.client.app.state.services
    return TestClient(create_app(Services(services.governance, services.db, services.verifier), limits=limits))


def _auth(api, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.keys[who]}", "content-type": "application/json"}


def _big_model(size: int) -> bytes:
    return json.dumps({"name": "m", "description": "x" * size}).encode()


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_body_declared_larger_than_the_limit_is_refused_with_413_and_appends_nothing(api):
    before = api.events()
    answer = _client(api).post("/v1/models", content=_big_model(10_000), headers=_auth(api, "dana"))
    assert _error(answer) == (413, "body_too_large")
    assert api.events() == before


def test_a_chunked_body_larger_than_the_limit_is_refused_with_413_while_it_streams(api):
    def chunks():
        body = _big_model(10_000)
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    before = api.events()
    answer = _client(api).post("/v1/models", content=chunks(), headers=_auth(api, "dana"))
    assert "content-length" not in answer.request.headers
    assert _error(answer) == (413, "body_too_large")
    assert api.events() == before


def test_a_body_within_the_limit_still_records_its_command(api):
    answer = _client(api).post("/v1/models", content=_big_model(100), headers=_auth(api, "dana"))
    assert answer.status_code == 201, answer.text


def test_an_artifact_upload_has_its_own_larger_bound(api):
    client, headers = _client(api), _auth(api, "dana")
    model_id = client.post("/v1/models", json={"name": "u"}, headers=headers).json()["model"]["model_id"]
    upload = json.dumps({"artifact_base64": "A" * 20_000, "sha256": "0" * 64}).encode()
    assert client.post(f"/v1/models/{model_id}/versions", content=upload, headers=headers).status_code == 422  # read and judged
    huge = json.dumps({"artifact_base64": "A" * 100_000}).encode()
    assert _error(client.post(f"/v1/models/{model_id}/versions", content=huge, headers=headers)) == (413, "body_too_large")


def test_an_unauthenticated_body_is_refused_with_401_before_a_byte_of_it_is_read(api):
    app = create_app(api.client.app.state.services)
    pulled: list[bytes] = []
    sent: list[dict] = []

    async def receive():
        pulled.append(b"x" * 1_000_000)
        return {"type": "http.request", "body": pulled[-1], "more_body": len(pulled) < 20}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/models", "raw_path": b"/v1/models", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json")], "client": ("127.0.0.1", 1), "server": ("t", 80)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 401
    assert pulled == []


def test_readyz_tells_anyone_only_whether_it_is_ready(api, db_url):
    answer = api.client.get("/readyz")
    assert answer.status_code == 200 and answer.json() == {"status": "ready"}
    for who in (None, "mia", "aud"):
        text = api.call("GET", "/readyz", who).text
        assert text == '{"status":"ready"}'
        for secret in (api.db.describe(), api.db.user or "sqlite", api.db.host or str(api.db.path), api.db.dbname or "ledger.db"):
            assert secret not in text


def test_readyz_tells_a_superadmin_each_check(api):
    assert api.call("GET", "/readyz", "root").json() == {"status": "ready", "checks": {"database": "ok", "workers": "ok"}}


@pytest.fixture
def pg_story(pg_url, signer):
    """A story on PostgreSQL whose pool gives up on a connection after 0.1 s (eventsourcing then retries ten times)."""
    db = Database.from_url(pg_url)
    keys: dict[str, str] = {}
    story(db, keys=keys)
    gov = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts(), vault=SubjectVault(db))
    gov.recorder.datastore.pool.timeout = 0.1
    return gov, db, keys, TestClient(create_app(Services(gov, db, signer.verifier)))


def test_an_exhausted_connection_pool_answers_503_and_readyz_says_not_ready(pg_story):
    gov, db, keys, client = pg_story
    dana = {"Authorization": f"Bearer {keys['dana']}"}
    assert client.get("/readyz").status_code == 200
    pool = gov.recorder.datastore.pool
    held = [pool.getconn(timeout=5) for _ in range(pool.max_size)]  # every connection stuck in someone's hands
    try:
        with db.connect() as conn:
            before = db.events(conn)
        assert _error(client.post("/v1/models", json={"name": "stuck"}, headers=dana)) == (503, "database_unavailable")
        started = time.monotonic()
        ready = client.get("/readyz", headers={"Authorization": f"Bearer {keys['root']}"})
        assert ready.status_code == 503 and ready.json() == {"status": "not_ready"}
        assert time.monotonic() - started < 5
    finally:
        for conn in held:
            pool.putconn(conn)
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/models", json={"name": "free"}, headers=dana).status_code == 201
    with db.connect() as conn:
        assert db.events(conn) == before + 1


def test_a_database_that_went_away_mid_request_answers_503(api, monkeypatch):
    from eventsourcing.persistence import InterfaceError, OperationalError

    for fault in (OperationalError("server closed the connection"), InterfaceError("connection already closed")):
        def broken(*args, fault=fault, **kwargs):
            raise fault

        monkeypatch.setattr(api.app, "register_model", broken)
        assert _error(api.call("POST", "/v1/models", "dana", json={"name": "x"})) == (503, "database_unavailable")


def test_docs_render_from_local_assets_only(api):
    page = api.client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'""", page.text)
    urls = [a or b for a, b in urls]
    assert len(urls) >= 3
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert api.client.get(url).status_code == 200, url
    assert "http://" not in page.text and "https://" not in page.text
    assert api.client.get("/redoc").status_code == 404  # its page would load a script from a CDN
