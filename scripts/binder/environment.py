"""binder/environment.yml as pip requirements, for the Binder check (scripts/binder-check.sh).

    python scripts/binder/environment.py binder/environment.yml --python X.Y.Z [--pyproject FILE]

The machines that run the check have no conda: the check makes a virtual environment instead,
with the Python repo2docker would pick and what pip installs for the same specs. This reads
the simple subset of environment.yml that the project uses and prints one pip requirement a
line; anything outside that subset stops it with a message naming the line, rather than being
installed differently from what conda would install.

  - keys: name, channels (conda-forge or defaults), dependencies;
  - dependencies: `python=X.Y` (checked against --python, not installed), `pip` (the virtual
    environment has it), conda specs `name`, `name=V` (conda's fuzzy match: `V.*`), `name==V`,
    `name>=A,<B` (and >, <=, !=), whose conda-forge names are the PyPI names; and one `pip:`
    list of pip requirements, taken as they are (no options such as -e or -r);
  - with --pyproject: the jupyterlab range must be the one of the Python package's
    dependencies, so that Binder gets a JupyterLab the extension supports.

Exit status 1 with the reason on stderr when the file is outside that subset or disagrees.
Needs PyYAML and packaging (the development environment has both).
"""

import argparse
import re
import sys
import tomllib

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

KNOWN_KEYS = {"name", "channels", "dependencies"}
KNOWN_CHANNELS = {"conda-forge", "defaults"}
# conda packages with no PyPI package of the same name and content: refused, not guessed.
CONDA_ONLY = {"nodejs", "yarn", "r-base", "openjdk", "gcc", "make", "git"}

NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
VERSION = r"[0-9][0-9A-Za-z.+!_-]*"
CONSTRAINT = re.compile(rf"(>=|<=|==|!=|>|<)\s*({VERSION}(?:\.\*)?)")


class UnsupportedEnvironment(ValueError):
    """environment.yml says something this translation does not handle."""


def fail(message):
    raise UnsupportedEnvironment(message)


def conda_spec(spec):
    """(name, pip specifier) of one conda spec of the subset; the specifier may be ''."""
    if not isinstance(spec, str):
        fail(f"dependency {spec!r}: expected a conda spec (a string) or the pip: list")
    match = re.fullmatch(rf"\s*({NAME})\s*(.*?)\s*", spec)
    if not match or "::" in spec:
        fail(f"dependency {spec!r}: not a conda spec this check understands")
    name, rest = match.group(1), match.group(2)
    if not rest:
        return name, ""
    fuzzy = re.fullmatch(rf"=({VERSION})(\.?\*)?", rest)
    if fuzzy and not rest.startswith("=="):
        return name, f"=={fuzzy.group(1).rstrip('.')}.*"
    parts = rest.split(",")
    specifiers = []
    for part in parts:
        constraint = CONSTRAINT.fullmatch(part.strip())
        if not constraint:
            fail(
                f"dependency {spec!r}: {part.strip()!r} is not a version constraint this check "
                "understands (no build strings, no |, no bare versions)"
            )
        specifiers.append(constraint.group(1) + constraint.group(2))
    text = ",".join(specifiers)
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        fail(f"dependency {spec!r}: {text!r} is not a valid pip version range")
    return name, text


def pip_requirement(line):
    """A pip requirement of the pip: list, checked."""
    if not isinstance(line, str) or line.strip().startswith("-"):
        fail(f"pip: {line!r}: only requirements, no pip options")
    try:
        Requirement(line)
    except InvalidRequirement as error:
        fail(f"pip: {line!r}: {error}")
    return line.strip()


def translate(environment, python_version):
    """The pip requirements for an environment.yml already read (a dict), for that Python."""
    if not isinstance(environment, dict):
        fail("environment.yml is not a mapping")
    unknown = set(environment) - KNOWN_KEYS
    if unknown:
        fail(f"unknown keys {sorted(unknown)} (this check knows {sorted(KNOWN_KEYS)})")
    channels = environment.get("channels") or []
    for channel in channels:
        if channel not in KNOWN_CHANNELS:
            fail(f"channel {channel!r}: only {sorted(KNOWN_CHANNELS)}, whose names are PyPI's")
    dependencies = environment.get("dependencies")
    if not isinstance(dependencies, list) or not dependencies:
        fail("no dependencies list")
    requirements = []
    python_seen = False
    pip_lists = 0
    for dependency in dependencies:
        if isinstance(dependency, dict):
            if list(dependency) != ["pip"] or not isinstance(dependency["pip"], list):
                fail(f"dependency {dependency!r}: the only mapping allowed is one pip: list")
            pip_lists += 1
            requirements += [pip_requirement(line) for line in dependency["pip"]]
            continue
        name, specifier = conda_spec(dependency)
        if name.lower() == "python":
            python_seen = True
            if specifier and not SpecifierSet(specifier).contains(Version(python_version)):
                fail(f"python {specifier} is asked for, but the check's Python is {python_version}")
        elif name.lower() == "pip":
            if specifier:
                fail(f"dependency {dependency!r}: pip comes with the virtual environment, unpinned")
        elif name.lower() in CONDA_ONLY:
            fail(f"dependency {dependency!r}: a conda package with no PyPI equivalent here")
        else:
            requirements.append(name + specifier)
    if not python_seen:
        fail("no python dependency: repo2docker would pick a Python the check cannot know")
    if pip_lists > 1:
        fail("more than one pip: list")
    return requirements


def specifier_of(requirements, name):
    """The SpecifierSet of `name` among pip requirement strings, or None."""
    for line in requirements:
        requirement = Requirement(line)
        if requirement.name.lower() == name:
            return requirement.specifier
    return None


def check_jupyterlab_range(requirements, pyproject_path):
    """environment.yml must ask for the jupyterlab range the Python package depends on."""
    with open(pyproject_path, "rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    wanted = specifier_of(dependencies, "jupyterlab")
    got = specifier_of(requirements, "jupyterlab")
    if wanted is None:
        fail(f"{pyproject_path} has no jupyterlab dependency")
    if got != wanted:
        fail(
            f"environment.yml asks for jupyterlab{got or ' (any)'}, but {pyproject_path} says "
            f"jupyterlab{wanted}: make them the same range"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("environment")
    parser.add_argument("--python", required=True, help="version of the Python it will run on")
    parser.add_argument("--pyproject", help="check the jupyterlab range against this file")
    args = parser.parse_args(argv)
    try:
        with open(args.environment, encoding="utf-8") as file:
            environment = yaml.safe_load(file)
        requirements = translate(environment, args.python)
        if args.pyproject:
            check_jupyterlab_range(requirements, args.pyproject)
    except (UnsupportedEnvironment, yaml.YAMLError) as error:
        print(f"{args.environment}: {error}", file=sys.stderr)
        return 1
    print("\n".join(requirements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
