"""The StaffPulse agent application: the one package that composes agent/, sync/ and ui/ into programs.

The libraries below it each keep to their layer (the import-linter contracts in pyproject.toml hold them to
it): ``agent`` counts input and fills the outbox, ``sync`` uploads and keeps the live connection, ``ui`` is the
only place Qt is imported. Deciding which of them run, and how, happens here and nowhere else:

    staffpulse.cli       the ``staffpulse`` command (also ``python -m staffpulse`` and the frozen app)
    staffpulse.sampler   ``python -m staffpulse.sampler``: the sampler alone, no network (tests, bench/)
    staffpulse.selftest  ``staffpulse --self-test``: the library checks plus Qt's, in the order they must run

It is named for the distribution and the command rather than ``app``: it is installed into site-packages,
where a top-level ``app`` would collide with any other project's.
"""
