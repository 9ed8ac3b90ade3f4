"""The host's HTTP and WebSocket routes, one module per concept. Each route is a thin edge: it
reaches the :class:`~server.room.Room` through :data:`~server.api.deps.RoomDep`, turns the
request into a call, and lets the app's exception handlers turn errors into answers."""
