"""Two processes race to change one aggregate: one wins, the other gets a conflict error, and the chain stays intact."""

from __future__ import annotations

import multiprocessing as mp

from domain.application import Governance
from domain.errors import Conflict
from ledger.database import Database
from ledger.sealer import seal_pending
from ledger.verify import verify_store


def _edit(url: str, model_id, actor, barrier, results) -> None:
    app = Governance(env=Database.from_url(url).eventsourcing_env())
    model = app.repository.get(model_id)  # both load the same version of the model
    barrier.wait(timeout=30)
    model.edit_section("model_info", f"written by process {mp.current_process().name}", actor.username)
    try:
        app._save([model], None)
        results.put("saved")
    except Conflict as e:
        results.put(f"conflict: {e.code}")
    finally:
        app.close()


def test_two_processes_editing_one_model_one_wins_one_gets_a_conflict(db, db_url, signer):
    from tests.domain.world import MemoryArtifacts

    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    key = app.create_admin("root").api_key
    admin = app.authenticate(key)
    app.create_user(admin, "dana", "data_scientist")
    dana_key = app.issue_api_key(admin, "dana", "t").api_key
    dana = app.authenticate(dana_key)
    model_id = app.register_model(dana, name="credit").id
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_edit, args=(db_url, model_id, dana, barrier, results)) for _ in range(2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in workers) == ["conflict: conflict", "saved"]
    assert len(app.repository.get(model_id).sections) == 1
    with db.connect() as conn:
        seal_pending(db, conn, signer)
        verify_store(db, conn, signer.verifier)
