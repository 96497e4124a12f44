"""The load tool: N simulated agents against a running team server, ours or the Node reference.

    .venv/bin/python -m bench.load --spawn sqlite                       # defaults: 1,000 agents, < 2 min
    .venv/bin/python -m bench.load --spawn postgres --agents 5000 --compare-node
    .venv/bin/python -m bench.load --url http://127.0.0.1:8400 --database-url sqlite:///… --server-pid 1234

Modules: ``roster`` seeds the agents (teams of 50) straight into the database in one transaction;
``targets`` starts our server (SQLite or PostgreSQL) or the Node reference; ``swarm`` is one client process
holding a share of the sockets; ``run`` drives the phases (connect ramp, steady state, presence storms, upload
waves, reconnect storm) and ``report`` prints the table. See docs/scaling.md, "Measured".
"""
