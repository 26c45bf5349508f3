"""The ASGI server: routing, authentication and the dialects' handlers."""
