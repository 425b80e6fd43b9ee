"""eventsourcing's own recorder contract tests, run unchanged against the chained recorders on both databases.

After each contract test the chain over everything the test wrote must still verify.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from eventsourcing.tests.persistence import ApplicationRecorderTestCase, NonInterleavingNotificationIDsBaseCase

from ledger.database import Database
from ledger.migrate import migrate
from ledger.recorders import ChainedPostgresFactory, ChainedSQLiteFactory
from ledger.sealer import seal_pending
from ledger.verify import verify_store
from ledger_tools import generate_signer


class _ChainedRecorderContract:
    url: str

    def create_recorder(self):
        db = Database.from_url(self.url)
        factory_class = ChainedSQLiteFactory if db.is_sqlite else ChainedPostgresFactory
        self._factory = factory_class(db.eventsourcing_env())
        return self._factory.application_recorder()

    def tearDown(self) -> None:
        # The library's concurrency tests leave reader threads to stop on their own; closing the
        # connections under them would crash SQLite, so wait for them first.
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join(timeout=10)
        factory = getattr(self, "_factory", None)
        if factory is not None:
            factory.close()
        db = Database.from_url(self.url)
        signer = generate_signer("test.govledger/contract")
        with db.connect() as conn:
            if seal_pending(db, conn, signer) is not None:  # some contract tests write nothing
                report = verify_store(db, conn, signer.verifier)
                assert report.events == conn.execute("SELECT COUNT(*) FROM ledger_events").fetchone()[0]
        super().tearDown()  # type: ignore[misc]


class _OnSQLite(_ChainedRecorderContract):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'contract.db'}"
        migrate(Database.from_url(self.url))


class _OnPostgres(_ChainedRecorderContract):
    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> None:
        self.url = pg_url


class TestChainedSQLiteRecorder(_OnSQLite, ApplicationRecorderTestCase):
    pass


class TestChainedPostgresRecorder(_OnPostgres, ApplicationRecorderTestCase):
    pass


class TestChainedSQLiteNonInterleaving(_OnSQLite, NonInterleavingNotificationIDsBaseCase):
    pass


class TestChainedPostgresNonInterleaving(_OnPostgres, NonInterleavingNotificationIDsBaseCase):
    pass
