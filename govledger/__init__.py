"""govledger: the composition root (bootstrap) and the `govledger` command line."""
