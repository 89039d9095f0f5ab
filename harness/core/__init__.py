"""Stage 0, what every stage shares: the one error type, files, tables, the backend choice and the environment."""
