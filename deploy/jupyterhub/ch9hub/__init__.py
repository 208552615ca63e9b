"""The production class hub's parts: log-in, unix accounts, per-student limits, the course copy."""
