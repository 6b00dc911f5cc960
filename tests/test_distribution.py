"""The distribution's name on the package index, and what it declares."""

from __future__ import annotations

import tomllib
from importlib.metadata import distribution

import aiops
from tests.conftest import REPO


def _project() -> dict[str, object]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    assert isinstance(project, dict)
    return project


def test_the_distribution_has_a_name_of_its_own_and_the_command_stays_aiops() -> None:
    project = _project()
    # "aiops" on the package index is another project's: installing it by that name
    # would bring the wrong tool.
    assert project["name"] == "aiops-evidence"
    assert project["scripts"] == {"aiops": "aiops.cli:main"}
    installed = distribution("aiops-evidence")
    assert installed.version == aiops.__version__
    assert any(ep.name == "aiops" for ep in installed.entry_points)


def test_no_backport_is_declared_for_pythons_the_project_does_not_support() -> None:
    project = _project()
    assert project["requires-python"] == ">=3.11"
    dependencies = project["dependencies"]
    assert isinstance(dependencies, list)
    assert not [d for d in dependencies if "python_version" in d or d.startswith("tomli")]


def test_the_readme_installs_the_distribution_by_its_own_name() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "pipx install aiops-evidence" in readme
    assert "pip install aiops\n" not in readme and "pipx install aiops\n" not in readme


def test_gitignore_covers_the_key_names_the_docs_use() -> None:
    from aiops.services.keys import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE

    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in (PRIVATE_KEY_FILE, PUBLIC_KEY_FILE):
        assert name in ignored
        assert f"\n{name}\n" in readme  # the README's .gitignore lines
