"""What pyproject.toml cannot say statically: the repository's top-level `playbooks/` folder (the
behaviour a company tunes, kept as data beside the code) is installed as the package
`bot.playbooks`, so an installed leakbot (wheel, `pip install .`, pipx, the container) finds it
through importlib.resources from any directory. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

_SKIP = ["*__pycache__*"]
# playbooks/ and every folder below it (e.g. playbooks/documents/ with document templates).
PLAYBOOK_PACKAGES = [
    "bot.playbooks",
    *(f"bot.playbooks.{sub}" for sub in find_namespace_packages(where="playbooks", exclude=_SKIP)),
]
CODE_PACKAGES = find_namespace_packages(include=["bot", "bot.*"], exclude=_SKIP)

setup(
    packages=[*CODE_PACKAGES, *PLAYBOOK_PACKAGES],
    package_dir={"bot.playbooks": "playbooks"},
    package_data={
        "bot": ["py.typed"],
        "bot.resources": ["*.yml"],
        "bot.store.migrations": ["*.ini"],
        **{name: ["*"] for name in PLAYBOOK_PACKAGES},
    },
)
