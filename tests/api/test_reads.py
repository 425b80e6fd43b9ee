"""Queries over HTTP: from the read models, as of any position or time, paged by cursor, each role seeing what §2 allows."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from domain.roles import Role

EVERY_LIST = ["/v1/models", "/v1/versions", "/v1/deployments", "/v1/datasets", "/v1/compliance", "/v1/audit-trail", "/v1/jobs"]


@pytest.mark.parametrize("user", ["root", "mia", "cora", "aud", "dana"])
def test_every_reading_role_reads_the_registry_now(api, user):
    body = api.get("/v1/versions", user).json()
    assert sorted(v["status"] for v in body["items"]) == ["approved", "deployed", "terminated"]
    assert body["as_of_position"] == api.events() - 1


def test_a_data_scientist_sees_only_their_own_models(api):
    api.app.create_user(api.app.authenticate(api.keys["root"]), "eve", Role.DATA_SCIENTIST.value)
    api.keys["eve"] = api.app.issue_api_key(api.app.authenticate(api.keys["root"]), "eve", "t").api_key
    api.project()
    for path in EVERY_LIST:
        if path != "/v1/datasets":  # datasets are shared inputs, not models: every reader sees them
            assert api.get(path, "eve").json()["items"] == [], path
    model_id = api.get("/v1/models", "dana").json()["items"][0]["model_id"]
    for path in (f"/v1/models/{model_id}", f"/v1/models/{model_id}/compliance"):
        refused = api.get(path, "eve")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert {e["model_id"] for e in api.get("/v1/audit-trail", "dana").json()["items"]} == {
        m["model_id"] for m in api.get("/v1/models", "dana").json()["items"]}


def _position_of(api, suffix: str) -> int:
    return next(n.id for n in api.app.recorder.select_notifications(start=1, limit=10_000) if n.topic.endswith(suffix)) - 1


def test_as_of_a_position_answers_as_things_stood_then(api):
    exported = _position_of(api, "ModelVersion.Exported")
    body = api.get("/v1/versions", "aud", as_of=exported).json()
    assert [v["status"] for v in body["items"]] == ["staged"] and body["as_of_position"] == exported
    assert api.get("/v1/models", "aud", as_of=0).json()["items"] == []
    trail = api.get("/v1/audit-trail", "aud", as_of=exported, limit=500).json()["items"]
    assert [e["position"] for e in trail] == list(range(exported + 1))


def test_as_of_a_time_answers_as_things_stood_then(api):
    exported = _position_of(api, "ModelVersion.Exported")
    event = api.app.mapper.to_domain_event(api.app.recorder.select_notifications(start=exported + 1, limit=1)[0])
    body = api.get("/v1/versions", "cora", as_of=event.timestamp.isoformat()).json()
    assert [v["status"] for v in body["items"]] == ["staged"] and body["as_of_position"] == exported
    early = api.get("/v1/versions", "cora", as_of="2000-01-01T00:00:00Z")
    assert early.status_code == 400 and early.json()["error"]["code"] == "invalid_argument"


def test_as_of_a_plain_date_answers_as_things_stood_at_the_end_of_that_day_utc(api):
    last = api.app.mapper.to_domain_event(api.app.recorder.select_notifications(start=api.events(), limit=1)[0])
    day = last.timestamp.astimezone(UTC).date()
    body = api.get("/v1/versions", "aud", as_of=day.isoformat()).json()
    assert body["as_of_position"] == api.events() - 1  # every event of that day, however late in it
    before = api.get("/v1/versions", "aud", as_of=(day - timedelta(days=400)).isoformat())
    assert (before.status_code, before.json()["error"]["code"]) == (400, "invalid_argument")
    for bad in ("2026-13-01", "2026-02-30", "15/06/2026"):
        refused = api.get("/v1/versions", "aud", as_of=bad)
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_argument"), bad
        assert "YYYY-MM-DD" in refused.json()["error"]["message"]


@pytest.mark.parametrize("user", ["mia", "dana"])
def test_time_travel_is_refused_to_roles_without_it_and_the_attempt_is_recorded(api, user):
    before = api.events()
    refused = api.get("/v1/models", user, as_of=0)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert api.events() == before + 1  # the AccessDenied event


def test_compliance_scores_show_their_breakdown_now_and_as_of(api):
    model_id = api.get("/v1/models", "cora").json()["items"][0]["model_id"]
    now = api.get(f"/v1/models/{model_id}/compliance", "cora").json()
    assert 0 < now["score"] <= 100 and len(now["breakdown"]) == 12
    assert now["sections"]["model_info"]["content"].startswith("documented")
    configured = _position_of(api, "Model.ComplianceConfigured")
    then = api.get(f"/v1/models/{model_id}/compliance", "cora", as_of=configured).json()
    assert then["sections"] == {} and then["score"] < now["score"]


def test_the_audit_trail_filters_by_model_user_action_outcome_subject_and_time(api):
    trail = api.get("/v1/audit-trail", "aud", limit=500).json()["items"]
    refused = api.get("/v1/audit-trail", "aud", outcome="refused").json()["items"]
    assert [e["position"] for e in refused] == [e["position"] for e in trail if e["outcome"] == "refused"] and refused
    by_mia = api.get("/v1/audit-trail", "aud", user="mia", action="approve").json()["items"]
    assert {e["event_type"] for e in by_mia} == {"ModelVersion.Approved"}
    model_id = refused[0]["model_id"]
    for_model = api.get("/v1/audit-trail", "aud", model_id=model_id, limit=500).json()["items"]
    assert for_model and all(e["model_id"] == model_id for e in for_model)
    subject = next(e["data_subject"] for e in trail if e["data_subject"])
    assert all(e["data_subject"] == subject for e in api.get("/v1/audit-trail", "aud", subject=subject).json()["items"])
    middle = trail[len(trail) // 2]["recorded_at"]
    later = api.get("/v1/audit-trail", "aud", since=middle, limit=500).json()["items"]
    earlier = api.get("/v1/audit-trail", "aud", until=middle, limit=500).json()["items"]
    assert len(later) + len(earlier) == len(trail) and all(e["recorded_at"] >= middle for e in later)
    newest_first = api.get("/v1/audit-trail", "aud", order="desc", limit=3).json()["items"]
    assert [e["position"] for e in newest_first] == [e["position"] for e in trail[::-1][:3]]


@pytest.mark.parametrize("path", EVERY_LIST)
def test_cursors_walk_every_item_once_at_one_position_even_as_events_arrive(api, path):
    whole = api.get(path, "aud", limit=500).json()
    seen, cursor = [], None
    while True:
        body = api.get(path, "aud", limit=2, **({"cursor": cursor} if cursor else {})).json()
        assert body["as_of_position"] == whole["as_of_position"]
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        api.app.register_dataset(api.app.authenticate(api.keys["dana"]), name="late", source="s", schema={"a": "integer"},
                                 row_count=1, content_hash="ef" * 32)
        api.project()
    assert seen == whole["items"]


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("/v1/versions", {"as_of": 10**6}, 400, "invalid_argument"),
    ("/v1/versions", {"as_of": "-1"}, 400, "invalid_argument"),
    ("/v1/versions", {"as_of": "yesterday"}, 400, "invalid_argument"),
    ("/v1/versions", {"limit": 0}, 422, "invalid_request"),
    ("/v1/versions", {"model_id": "nope"}, 422, "invalid_request"),
    ("/v1/versions", {"model_id": "00000000-0000-0000-0000-000000000000"}, 404, "not_found"),
    ("/v1/versions", {"cursor": "garbage!"}, 400, "invalid_cursor"),
    ("/v1/versions", {"cursor": "eyJwIjogMSwgImsiOiBbMV19"}, 400, "invalid_cursor"),  # {"p": 1, "k": [1]}: another list's
    ("/v1/audit-trail", {"cursor": "eyJwIjogMSwgImsiOiBbImEiXX0"}, 400, "invalid_cursor"),
    ("/v1/audit-trail", {"cursor": "eyJwIjogMSwgImsiOiBbMV19", "as_of": 5}, 400, "invalid_cursor"),
    ("/v1/audit-trail", {"action": "steal"}, 422, "invalid_request"),
    ("/v1/audit-trail", {"user": "a\x00b"}, 422, "invalid_request"),
    ("/v1/models/not-a-uuid", {}, 422, "invalid_request"),
    ("/v1/versions/00000000-0000-0000-0000-000000000000", {}, 404, "not_found"),
])
def test_bad_queries_get_clear_json_errors_and_append_nothing(api, path, params, status, code):
    before = api.events()
    response = api.get(path, "aud", **params)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
    assert api.events() == before


def test_a_query_beyond_the_read_models_says_they_are_behind(api):
    api.app.register_dataset(api.app.authenticate(api.keys["dana"]), name="new", source="s", schema={"a": "integer"},
                             row_count=1, content_hash="ef" * 32)
    response = api.get("/v1/datasets", "aud", as_of=api.events() - 1)
    assert response.status_code == 503 and response.json()["error"]["code"] == "projection_behind"


@pytest.mark.parametrize("header", [None, "Bearer glk_0000000000000000_" + "A" * 43, "Bearer nonsense", "Basic abc"])
def test_unknown_malformed_and_missing_keys_get_401(api, header):
    response = api.client.get("/v1/models", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


def test_a_revoked_key_gets_401(api):
    response = api.get("/v1/models", "dev")  # revoked at the end of the story
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
