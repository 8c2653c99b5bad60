"""The HTTP edge: dependencies, the policy, error handlers, middleware and uploads.

With `api.routers`, the only layer that imports FastAPI or Starlette.
"""
