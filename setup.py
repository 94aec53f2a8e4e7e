"""Installs the package `kubetfx` from the repository's top-level folders.

`components/` becomes `kubetfx.components` and `pipelines/` becomes `kubetfx.pipelines`, so no
generic top-level name such as `components` lands in site-packages.
"""
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent


def _requirements(file_name: str):
    lines = (HERE / file_name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _version():
    text = (HERE / "kubetfx" / "version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def _packages():
    mapping = {"kubetfx": "kubetfx"}
    mapping.update({f"kubetfx.{sub}": f"kubetfx/{sub.replace('.', '/')}" for sub in find_packages("kubetfx")})
    for folder in ("components", "pipelines"):
        mapping[f"kubetfx.{folder}"] = folder
        for sub in find_packages(folder):
            mapping[f"kubetfx.{folder}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return mapping


PACKAGES = _packages()

setup(
    name="kubetfx",
    version=_version(),
    description="TFX steps (Transform, Trainer, Evaluator, ...) as Kubeflow Pipelines v2 components",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",  # the images and the development root: 3.13 (Debian 13)
    packages=sorted(PACKAGES),
    package_dir=PACKAGES,
    package_data={"kubetfx.pipelines": ["*/*.yaml"]},
    install_requires=_requirements("requirements.txt"),  # what the step images need
    extras_require={"client": _requirements("requirements-client.txt")},  # compiling and submitting
    entry_points={"console_scripts": ["kubetfx=kubetfx.cli:main"]},
)
