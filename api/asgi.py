"""The ASGI application for any ASGI server: `uvicorn api.asgi:app`, `hypercorn api.asgi:app`."""

from api.app import create_app

app = create_app()
