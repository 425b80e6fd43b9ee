"""GET /v1/exports: a verifiable bundle (.tar.gz) of a slice of the ledger, for the roles allowed to export (§2)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from domain.errors import InvalidInput, NotFound
from domain.models import Model
from domain.roles import Action
from ledger.export import by_aggregates, by_positions, by_time, export_bundle

from .deps import CurrentActor, ServicesDep

router = APIRouter(prefix="/v1/exports", tags=["exports"])


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
    """Exactly one selection: a position range, a model, or a time range. Verify the result with `ledger-verify`."""
    gov = services.governance
    gov.authorize(actor, Action.TIME_TRAVEL, "ledger export")
    chosen = [from_position is not None or to_position is not None, model is not None, since is not None or until is not None]
    if sum(chosen) != 1:
        raise InvalidInput("choose exactly one selection: from_position/to_position, model, or since/until")
    db = services.db
    with db.connect() as conn:
        if model is not None:
            found = gov.get_model(actor, model)
            if not isinstance(found, Model):
                raise NotFound(f"no model {model}")
            selection = by_aggregates(db, conn, "model", {"model": str(model)}, [model, *found.version_ids])
        elif chosen[0]:
            selection = by_positions(db, conn, from_position or 0, to_position if to_position is not None else 2**62)
        else:
            utc = lambda t, d: (t if t.tzinfo else t.replace(tzinfo=UTC)) if t else d  # noqa: E731
            selection = by_time(db, conn, gov.mapper, utc(since, datetime(1970, 1, 1, tzinfo=UTC)),
                                utc(until, datetime(9999, 1, 1, tzinfo=UTC)))
        workdir = tempfile.TemporaryDirectory(prefix="govledger-export-")
        path = Path(workdir.name) / "bundle.tar.gz"
        try:
            export_bundle(db, conn, services.verifier, selection, path)
        except BaseException:
            workdir.cleanup()
            raise
    return FileResponse(path, media_type="application/gzip", filename=f"govledger-{selection.kind}.tar.gz",
                        background=BackgroundTask(workdir.cleanup))
