"""Attacks over HTTP that once broke the service: each test is named after the attack, and fails without its fix."""

from __future__ import annotations


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
