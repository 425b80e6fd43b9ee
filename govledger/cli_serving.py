"""`govledger serve-model`: one model version served over HTTP, as an EC2 instance's user data starts it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: The largest request line plus headers uvicorn's h11 parser buffers.
HEADER_LIMIT = 16 * 1024


def serve_model(
    artifact: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="the version's skops file")],
    sha256: Annotated[str, typer.Option(help="the artifact's SHA-256 as the ledger recorded it: the model is loaded "
                                             "only if the file's bytes match")],
    host: Annotated[str, typer.Option(help="interface to listen on")] = "0.0.0.0",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8080,
) -> None:
    """Serve a model version: GET /healthz and POST /predict. Refuses to start when the artifact's bytes do not hash
    to --sha256 or hold a type that is not trusted."""
    import uvicorn

    from .model_server import make_app

    app = make_app(artifact, sha256)  # ArtifactError before anything listens
    uvicorn.run(app, host=host, port=port, log_level="info", http="h11", h11_max_incomplete_event_size=HEADER_LIMIT,
                timeout_keep_alive=5)
