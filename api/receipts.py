"""Receipts: the key that signs them, and each one's proof of inclusion once its position is sealed.

`GET /v1/receipts/{position}/proof` answers a C2SP tlog-proof of the event at that position against the latest signed
checkpoint, the checkpoint co-signed by this service's receipt key after its log signature was checked, so a customer
who holds the receipt and trusts the receipt key checks everything offline:
`ledger-verify receipt RECEIPT.json PROOF.json --trusted-key receipts.vkey`. Any API key, or a routing key, may ask.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import PlainTextResponse

from domain.errors import NotFound
from ledger.errors import LedgerError
from ledger.tree import stored_inclusion_proof
from ledger_tools.note import Signer
from ledger_tools.receipt import cosign_checkpoint, make_proof, proof_json

from .bodies import StrictJsonRoute
from .deps import ServicesDep
from .errors import RESPONSES

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["predictions"], responses=RESPONSES)


class NotSealedYet(NotFound):
    code = "not_sealed_yet"


class ReceiptsNotConfigured(LedgerError):
    code = "receipts_not_configured"


def receipt_signer(services: Any) -> Signer:
    """The key receipts are signed with; without one the service answers no prediction (it could give no receipt)."""
    if services.receipt_signer is None:
        raise ReceiptsNotConfigured("this API node has no receipt key (GOVLEDGER_RECEIPT_KEY, or keys/receipts.key "
                                    "that govledger init makes): it answers no prediction without a receipt")
    return services.receipt_signer  # type: ignore[no-any-return]


@router.get("/receipts/key", response_class=PlainTextResponse)
def receipt_key(services: ServicesDep) -> str:
    """The public key receipts are signed with (a C2SP note verifier key): what `--trusted-key` takes."""
    return f"{receipt_signer(services).verifier}\n"


@router.get("/receipts/{position}/proof")
def receipt_proof(services: ServicesDep, position: Annotated[int, Path(ge=0, le=2**63 - 2)]) -> dict[str, Any]:
    """The inclusion proof of the event at `position` against the latest signed checkpoint (404 not_sealed_yet until
    the sealer has sealed it; it does within a second or so)."""
    db = services.db
    with db.connect() as conn:
        row = conn.execute("SELECT tree_size, note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1").fetchone()
        if row is None or position >= int(row[0]):
            conn.rollback()
            if position >= db.events(conn):
                raise NotFound(f"the ledger holds no event at position {position}")
            raise NotSealedYet(f"position {position} is not sealed yet; ask again in a moment")
        size, note = int(row[0]), str(row[1])
        hashes = stored_inclusion_proof(db, conn, position, size)
        conn.rollback()
    cosigned = cosign_checkpoint(note, services.verifier, receipt_signer(services))
    return json.loads(proof_json(make_proof(index=position, hashes=hashes, checkpoint_note=cosigned)))  # type: ignore[no-any-return]
