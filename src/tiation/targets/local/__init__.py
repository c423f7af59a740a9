"""The `local` target: services as supervised processes on this host, behind the shared proxy."""
