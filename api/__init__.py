"""The HTTP API (FastAPI, under /v1). Depends on the domain and the store; nothing depends on it but the composition root."""
