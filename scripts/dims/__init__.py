"""The DIMS hospital ransomware case, generated (SYNTHETIC data).

``world`` holds the hospital as data (hosts, accounts, addresses, clocks, the texts the attacker
leaves), ``scenario`` the incident as data (the 21 steps: what happened, where, by whom and when,
and how each step can be found again), ``actions`` the vocabulary the scenario is written in and
the player that turns each action into log records, ``recorder`` how Windows, Linux, the firewall
and Defender for Endpoint log one thing (the only place event fields are spelled out),
``background`` the everyday activity around the incident, and ``writers`` the files of
``sample_data/``. ``scripts/make_sample_data.py`` is the command.
"""
