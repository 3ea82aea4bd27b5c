"""Packaging beyond pyproject.toml: the wheel carries templates/, static/ and migrations/."""

from setuptools import find_namespace_packages, setup

RESOURCES = ("templates", "static", "migrations")
IGNORED = ["*__pycache__*"]


def packages() -> list[str]:
    found = find_namespace_packages(include=["app", "app.*"], exclude=IGNORED)
    for name in RESOURCES:
        found.append(f"app.{name}")
        found += [
            f"app.{name}.{sub}" for sub in find_namespace_packages(where=name, exclude=IGNORED)
        ]
    return found


setup(
    packages=packages(),
    package_dir={f"app.{name}": name for name in RESOURCES},
    package_data={"": ["*"]},
    exclude_package_data={"": ["*.pyc"]},
)
