"""Workers: long-running processes that follow the ledger and append outcomes. Restartable at any moment."""
