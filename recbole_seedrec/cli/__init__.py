"""Every command of the package and its argv handling.

``recbole-seedrec`` (:mod:`recbole_seedrec.cli.main`) trains and evaluates one model, or hands its
arguments to one of its sub-commands: ``tune``, ``s2idm``, ``evaluate``, ``case-study``,
``prepare`` and ``wordnet``. The work itself lives below: :mod:`recbole_seedrec.run`, ``tune/``,
``prepare/``.
"""
