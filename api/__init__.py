"""The smart-village criteria API: HTTP edge, services, settings and the operator CLI."""
