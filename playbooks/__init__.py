"""Installed as the package `bot.playbooks` (see setup.py): the playbook data, found at run time
through importlib.resources."""
