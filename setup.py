from pathlib import Path

from setuptools import find_packages, setup

# The set that installs and passes `pip check` with RecBole 1.2.1 (see README, "Pins").
# torch is capped at the release this project is tested with: an open range lets pip fetch a
# newer multi-GB CUDA build.
INSTALL_REQUIRES = [
    "recbole==1.2.1",
    "torch>=2.6,<=2.13.0",
    "numpy>=1.24,<2",
    "pandas>=2,<3",
    "scipy",
    "setuptools<82",
    "pyarrow<26",
    "ray[tune]==2.6.3",
    "filelock",  # S2IDM sharing between Ray Tune trials
    "nltk>=3.8",
    "tqdm",
    "pyyaml",
]

setup(
    name="recbole-seedrec",
    version="0.1.0",
    description="SeeDRec (sememe-based diffusion for sequential recommendation) for RecBole",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["recbole_seedrec", "recbole_seedrec.*"]),
    package_data={"recbole_seedrec": ["properties/**/*.yaml", "data/*.txt"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # recbole-seedrec case-study draws its figures with matplotlib (tests draw one too)
        "plot": ["matplotlib>=3.7"],
        "test": ["pytest>=7", "ruff", "matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["recbole-seedrec=recbole_seedrec.cli.main:main"]},
    license="MIT",
)
