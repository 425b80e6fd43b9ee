"""GET /v1/exports: a verifiable bundle (.tar.gz) of a slice of the ledger, for superadmins, compliance managers and auditors."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from domain.roles import Action
from ledger.export import export_bundle
from ledger.slices import choose

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1/exports", tags=["exports"], responses=RESPONSES)


@router.get("", response_class=FileResponse, responses={200: {"content": {"application/gzip": {}}, "description": "the bundle"}})
def export(
    services: ServicesDep,
    actor: CurrentActor,
    from_position: Annotated[int | None, Query(ge=0)] = None,
    to_position: Annotated[int | None, Query(ge=0)] = None,
    model: UUID | None = None,
    since: Annotated[datetime | None, Query(description="events at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="events before this time")] = None,
) -> FileResponse:
    """Exactly one selection: a position range, a model, or a time range (widened to the whole position range it spans).

    Verify the result offline with `ledger-verify BUNDLE --trusted-key KEY`: a range bundle proves it
    holds every position of its range; a model bundle proves each aggregate's versions from 1 with no gap.
    """
    gov = services.governance
    gov.authorize(actor, Action.TIME_TRAVEL, "ledger export")
    if model is not None:
        gov.get_model(actor, model)  # not found, or not readable by this actor: said before anything is built
    db = services.db
    with db.connect() as conn:
        selection = choose(gov, db, conn, from_position=from_position, to_position=to_position, since=since, until=until,
                           model=model)
        workdir = tempfile.TemporaryDirectory(prefix="govledger-export-")
        path = Path(workdir.name) / "bundle.tar.gz"
        try:
            export_bundle(db, conn, services.verifier, selection, path)
        except BaseException:
            workdir.cleanup()
            raise
    return FileResponse(path, media_type="application/gzip", filename=f"govledger-{selection.kind}.tar.gz",
                        background=BackgroundTask(workdir.cleanup))
