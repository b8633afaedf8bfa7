"""The HTTP API for clinic systems, staff and webhooks (FastAPI, OpenAPI docs at /docs)."""
