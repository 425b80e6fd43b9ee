"""The store's own infrastructure: settings, the chained recorders, migrations, the Merkle tree storage, the sealer and `verify`."""
