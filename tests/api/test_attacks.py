"""Attacks over HTTP that once broke the service: each test is named after the attack, and fails without its fix."""

from __future__ import annotations

import pytest


def _auth(api, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.keys[who]}", "content-type": "application/json"}


def test_readiness_with_a_superadmins_key_reports_the_workers_check(api):
    """The merged tree imported WorkersUnhealthy from the wrong module: `govledger serve` could not even start."""
    answer = api.client.get("/readyz", headers=_auth(api, "root"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"] == {"database": "ok", "workers": "ok"}


def test_the_last_superadmin_demoting_themselves_is_refused_and_recorded_once(api):
    before = api.events()
    answer = api.client.put("/v1/users/root/role", json={"role": "auditor"}, headers=_auth(api, "root"))
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "precondition_failed"
    assert api.events() == before + 1  # the one AccessDenied
    assert api.app.authenticate(api.keys["root"]).role.value == "superadmin"
    created = api.client.post("/v1/users", json={"username": "still_admin", "role": "auditor"}, headers=_auth(api, "root"))
    assert created.status_code == 201, created.text


def test_a_superadmin_still_changes_another_users_role(api):
    answer = api.client.put("/v1/users/aud/role", json={"role": "manager"}, headers=_auth(api, "root"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["role"] == "manager"


@pytest.mark.parametrize("body, why", [
    (b'{"name": "first", "name": "second"}', "appears twice"),
    (b'{"name": "n", "description": NaN}', "NaN"),
    (b'{"name": "n", "description": Infinity}', "Infinity"),
    (b'{"name": "n", "x": 1e400}', "too large"),
    (b'{"name": "n", "x": ' + b"9" * 5000 + b"}", "digits"),
    (b'{"name": "' + b"\xff\xfe" + b'"}', "UTF-8"),
    (b'{"name": "n", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests too deep"),
])
def test_a_body_that_is_not_strict_json_is_422_invalid_request_and_appends_nothing(api, body, why):
    """Duplicate keys (the last one won), NaN, 1e400, a 5000-digit number, invalid UTF-8, deep nesting: each was
    taken as something, or answered an undocumented `400 http_error`."""
    before = api.events()
    answer = api.client.post("/v1/models", content=body, headers=_auth(api, "dana"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert why in answer.json()["error"]["message"]
    assert api.events() == before


@pytest.mark.parametrize("args", [
    ("seal", "--bogus"),
    ("checkpoint", "extra"),
    ("serve", "--port", "99999"),
    ("serve", "--host", "no-such-host.invalid", "--port", "8799"),
    ("replay", "00000000-0000-0000-0000-000000000000", "--version", "-1"),
    ("replay", "00000000-0000-0000-0000-000000000000", "--version", "9" * 30),
    ("replay", "00000000-0000-0000-0000-000000000000", "--at", "not-a-time"),
    ("projections", "rebuild", "--until", "-5"),
    ("export", "--out", "/dev/null/bundle", "--from-position", "0", "--to-position", "1"),
])
def test_a_cli_usage_error_is_one_line_and_exit_2_never_a_traceback(tmp_path, args):
    """typer vendors its own click, whose usage errors the CLI's `click.ClickException` never caught: every bad
    option printed a traceback and exited 1; an unwritable destination and a version beyond int64 did too."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env["GOVLEDGER_DATA_DIR"] = str(tmp_path / "data")
    subprocess.run([sys.executable, "-m", "govledger.cli", "init"], env=env, capture_output=True, check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "govledger.cli", "migrate"], env=env, capture_output=True, check=True, timeout=120)
    result = subprocess.run([sys.executable, "-m", "govledger.cli", *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(("error [usage]: ", "error [file_error]: ", "error [invalid_argument]: ")), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("path, params, status", [
    ("/v1/models", {"as_of": "9999-12-31T23:59:59-14:00"}, 200),  # after every event: the latest state
    ("/v1/audit-trail", {"as_of": "9999-12-31T23:59:59.999999-00:01"}, 200),
    ("/v1/models", {"as_of": "0001-01-01T00:00:00+14:00"}, 400),  # before every event
    ("/v1/audit-trail", {"until": "9999-12-31T23:59:59-14:00"}, 200),
    ("/v1/audit-trail", {"since": "0001-01-01T00:00:00+14:00"}, 200),
])
def test_a_moment_whose_utc_reading_is_beyond_year_9999_or_before_year_1_is_no_server_error(api, path, params, status):
    """Converting such a moment to UTC raised OverflowError: a 500, and uvicorn dropped the keep-alive connection."""
    before = api.events()
    answer = api.client.get(path, params=params, headers=_auth(api, "aud"))
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["error"]["code"] == "invalid_argument"
    else:
        assert answer.json()["items"], "a moment after every event sees every event"
    assert api.events() == before


def test_invented_http_methods_cannot_grow_the_metrics_without_bound(api):
    """Each request's method was a label as sent: an anonymous client inventing methods added series for ever."""
    for n in range(20):
        assert api.client.request(f"ATTACK{n:03d}", "/no-such-path").status_code in (404, 405)
    scrape = api.client.get("/metrics", headers=_auth(api, "aud")).text
    assert "ATTACK" not in scrape
    assert 'method="other",route="unmatched"' in scrape


@pytest.mark.parametrize("as_of", ["9999-12-31T00:00:00+00:00\x00", "9999-12-31T00:00:00\x00", "２０２６-11-22"])
def test_an_as_of_time_with_a_trailing_nul_or_other_unprintable_text_is_400(api, as_of):
    """datetime.fromisoformat ignores a trailing NUL: such an as_of was answered as the time before it."""
    answer = api.client.get("/v1/models", params={"as_of": as_of}, headers=_auth(api, "aud"))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_argument"


def _version_body(api, **patch):
    import base64
    import hashlib

    blob = b"attack-artifact"
    dataset = api.get("/v1/datasets", "dana").json()["items"][0]["dataset_id"]
    return {"artifact_base64": base64.b64encode(blob).decode(), "sha256": hashlib.sha256(blob).hexdigest(), "estimator": "x",
            "metrics": {"auc": 0.7}, "input_schema": {"a": "integer"}, "target": "y", "dataset_ids": [dataset], **patch}


@pytest.mark.parametrize("metrics", [{"auc": True}, {"auc": "0.7"}])
def test_a_metric_that_is_not_a_json_number_is_refused_not_coerced(api, metrics):
    """`{"auc": true}` was recorded as an AUC of 1.0, and `"0.7"` as 0.7: evidence of nothing, made a number."""
    model = api.get("/v1/models", "dana").json()["items"][0]["model_id"]
    before = api.events()
    answer = api.client.post(f"/v1/models/{model}/versions", json=_version_body(api, metrics=metrics), headers=_auth(api, "dana"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert api.events() == before


def test_an_invalid_request_message_is_bounded_however_long_the_key_it_quotes(api):
    model = api.get("/v1/models", "dana").json()["items"][0]["model_id"]
    answer = api.client.post(f"/v1/models/{model}/versions", json=_version_body(api, metrics={"k" * 30_000: 0.1}),
                             headers=_auth(api, "dana"))
    assert answer.status_code == 422, answer.text
    assert len(answer.json()["error"]["message"]) <= 2_001


def test_two_authorization_headers_are_401_and_neither_key_is_used(api):
    """The first header won: a proxy or log that reads the last one saw another caller than the ledger recorded."""
    before = api.events()
    headers = [("Authorization", f"Bearer {api.keys['aud']}"), ("Authorization", f"Bearer {api.keys['root']}")]
    for first_root in (False, True):
        answer = api.client.get("/v1/users", headers=list(reversed(headers)) if first_root else headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthenticated"
    assert api.events() == before


def test_a_superadmin_revoking_their_own_last_key_is_refused_and_recorded_once(api):
    """The only superadmin could revoke the key they were using: no one could manage users again."""
    root = _auth(api, "root")
    key_id = api.client.get("/v1/users/root/keys", headers=root).json()[0]["key_id"]
    before = api.events()
    answer = api.client.delete(f"/v1/keys/{key_id}", headers=root)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "precondition_failed"
    assert api.events() == before + 1
    assert api.client.get("/v1/users", headers=root).status_code == 200
    spare = api.client.post("/v1/users/root/keys", json={"label": "spare"}, headers=root).json()["api_key"]
    assert api.client.delete(f"/v1/keys/{key_id}", headers=root).status_code == 200  # with another key it may
    assert api.client.get("/v1/users", headers={"Authorization": f"Bearer {spare}"}).status_code == 200


@pytest.mark.parametrize("who", ["aud", "mia", "cora", "root"])
def test_an_upload_from_a_role_that_may_not_upload_gets_the_ordinary_body_bound(api, who):
    """Any authenticated caller, an auditor included, could make the server read and parse a 96 MiB artifact body
    before the command refused their role: the upload bound is for the roles that may upload."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.deps import Services
    from api.guard import Limits

    services = api.client.app.state.services
    client = TestClient(create_app(Services(services.governance, services.db, services.verifier),
                                   limits=Limits(body=4096, upload=64 * 1024, body_timeout=5)))
    model = api.get("/v1/models", "root").json()["items"][0]["model_id"]
    upload = _version_body(api, artifact_base64="A" * 20_000)
    before = api.events()
    answer = client.post(f"/v1/models/{model}/versions", json=upload, headers=_auth(api, who))
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "body_too_large"
    assert api.events() == before
    judged = client.post(f"/v1/models/{model}/versions", json=upload, headers=_auth(api, "dana"))
    assert judged.status_code == 422, judged.text  # a data scientist's upload is read and judged


def test_an_erased_users_email_cannot_be_confirmed_from_the_idempotency_hash_in_the_ledger(api):
    """The request hash of `POST /v1/users` was a plain SHA-256 of the command and its arguments, e-mail included,
    recorded for ever: after the erasure anyone holding the ledger could confirm a guessed address offline."""
    from domain.services.idempotency import IdempotentRequest, request_hash

    root = {**_auth(api, "root"), "Idempotency-Key": "create-erin"}
    body = {"username": "erin", "role": "auditor", "email": "erin@example.com"}
    created = api.client.post("/v1/users", json=body, headers=root)
    assert created.status_code == 201, created.text
    again = api.client.post("/v1/users", json=body, headers=root)  # a retry is still recognised
    assert again.status_code == 201 and again.json()["position"] == created.json()["position"]
    other = api.client.post("/v1/users", json={**body, "email": "someone@example.com"}, headers=root)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    user_id = created.json()["user"]["user_id"]
    assert api.client.post(f"/v1/subjects/{user_id}/erasure", json={"reason": "GDPR-1"},
                           headers=_auth(api, "root")).status_code == 200

    recorded = api.app.repository.get(IdempotentRequest.create_id(api.app.authenticate(api.keys["root"]).user_id,
                                                                  "create-erin"))
    guess = request_hash("create_user", {"username": "erin", "role": "auditor", "email": "erin@example.com"})
    assert recorded.request_hash != guess
    assert "erin@example.com" not in str(vars(recorded))


def test_a_refused_user_creation_with_an_email_and_an_idempotency_key_makes_no_subject_key(api):
    """The request's hash keyed the e-mail under the new user's subject key, made before the role was checked: a
    manager, refused, still made the service write a key for a user that never existed."""
    from domain.users import user_id_for

    headers = {**_auth(api, "mia"), "Idempotency-Key": "sneaky-user"}
    body = {"username": "ghost", "role": "auditor", "email": "ghost@example.com"}
    before = api.events()
    for _ in range(2):  # the retry answers the same refusal, recorded once
        answer = api.client.post("/v1/users", json=body, headers=headers)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden", answer.text
    assert api.events() == before + 2  # one AccessDenied and its idempotency record
    assert not api.app.vault.knows(str(user_id_for("ghost")))


def test_two_idempotency_key_headers_are_422_and_record_nothing(api):
    """One of two keys was taken silently: a retry through a proxy that kept the other one ran the command again."""
    before = api.events()
    headers = [*_auth(api, "dana").items(), ("Idempotency-Key", "first-key"), ("Idempotency-Key", "second-key")]
    answer = api.client.post("/v1/models", json={"name": "twice"}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert api.events() == before


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    """uvicorn logged the bind error among its start-up lines and exited 3."""
    import os
    import socket
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env["GOVLEDGER_DATA_DIR"] = str(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run([sys.executable, "-m", "govledger.cli", "serve", "--port", port], env=env,
                                capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error [invalid_argument]: cannot listen on 127.0.0.1:") and len(result.stderr.strip().splitlines()) == 1
