"""Real infrastructure for tests: server processes, a PostgreSQL cluster, socket clients, enrolled teams."""
