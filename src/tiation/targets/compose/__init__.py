"""The `compose` target: services as containers on a Docker engine, behind the shared proxy."""
