"""rldg_ros: ament_python package (colcon in ws/) and a pip-installable package (make setup)."""

import runpy
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "rldg_ros"
executables = runpy.run_path(f"{PACKAGE}/executables.py")

# name, version, dependencies and extras: pyproject.toml
setup(
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "plugin.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        *((f"share/{PACKAGE}/{d}", glob(f"{d}/*.yaml")) for d in sorted(p.rstrip("/") for p in glob("config/*/"))),
    ],
    zip_safe=True,
    entry_points={"console_scripts": executables["console_scripts"]()},
)
