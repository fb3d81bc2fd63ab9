"""rldg_ros: ament_python package (colcon in ws/) and a pip-installable package (make setup)."""

import runpy
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "rldg_ros"
executables = runpy.run_path(f"{PACKAGE}/executables.py")

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "plugin.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rldg maintainers",
    maintainer_email="rldg@example.org",
    description="RLDG on ROS 2: RL specialists distilled into generalist robot policies",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={"console_scripts": executables["console_scripts"]()},
)
