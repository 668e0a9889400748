"""Local development host: Azurite plus a small HTTP server for function_app.app (stand-in for `func start`)."""
