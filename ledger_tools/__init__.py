"""ledger_tools: offline verification of govledger ledgers, with no dependency on the service.

Only the standard library and `cryptography` are needed. Public API:

- Merkle trees per RFC 9162 §2.1: `leaf_hash`, `node_hash`, `root_from_leaf_hashes`,
  `CompactRange`, `inclusion_proof`, `consistency_proof`, `verify_inclusion`, `verify_consistency`;
- C2SP signed notes and checkpoints: `Signer`, `Verifier`, `sign_note`, `open_note`,
  `Checkpoint`, `sign_checkpoint`, `open_checkpoint`;
- the govledger event chain: `leaf_bytes`, `event_leaf_hash`, `chain_hash`, `chain_events`, `check_chain`;
- bundles for regulators: `ledger_tools.bundle.verify_bundle` (a pinned key required; completeness and
  consistency against a held checkpoint) and `ledger_tools.archive.read_bundle`;
- prediction receipts: `ledger_tools.receipt` (`make_receipt`, `cosign_checkpoint`, `make_proof` for the
  service; `verify_receipt` for the customer, with the receipt key pinned);
- errors: every failure is a `LedgerToolsError`; no input, however malformed, raises anything else.
"""

from .chain import GENESIS, StoredEventFields, chain_events, chain_hash, check_chain, event_leaf_hash, leaf_bytes
from .checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from .errors import (
    ChainError,
    LedgerToolsError,
    MalformedInputError,
    ProofError,
    RootMismatchError,
    SignatureError,
    VerificationError,
)
from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from .note import Signer, Verifier, generate_signer, open_note, sign_note

__all__ = [
    "ChainError", "Checkpoint", "CompactRange", "EMPTY_ROOT", "GENESIS", "HASH_SIZE", "LedgerToolsError",
    "MalformedInputError", "ProofError", "RootMismatchError", "SignatureError", "Signer", "StoredEventFields",
    "VerificationError", "Verifier", "chain_events", "chain_hash", "check_chain", "consistency_proof", "event_leaf_hash",
    "generate_signer", "inclusion_proof", "leaf_bytes", "leaf_hash", "node_hash", "open_checkpoint",
    "open_note", "root_from_inclusion_proof", "root_from_leaf_hashes", "sign_checkpoint", "sign_note",
    "verify_consistency", "verify_inclusion",
]
__version__ = "0.3.0"  # 0.3: prediction receipts; 0.2: bundle format govledger-bundle/2, a pinned key required
