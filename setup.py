"""Build hook: ship the top-level notebooks and the CDNOW sample inside the package.

Everything else about the build is in pyproject.toml. The notebooks stay in one place in the
repository (``notebooks/``, where ``make lab`` opens them and the tests check them); a wheel copies
them into ``segkit/notebooks/`` at build time, and the bundled CDNOW file into
``segkit/data/cdnow/``, so an installed segkit finds both where ``segkit.config`` looks when there is
no checkout around it (``PROJECT_ROOT`` is then the package folder). MANIFEST.in puts the same
files in the sdist, so a wheel built from the sdist has them too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: (files in the repository, folder inside the package): the notebooks open the data as
#: ``../data/cdnow/cdnow_master.csv.gz``, which resolves inside the package from ``segkit/notebooks``
BUNDLED = (("notebooks/[0-9][0-9]_*.ipynb", "notebooks"), ("data/cdnow/*.csv.gz", "data/cdnow"))


class BuildWithTemplates(build_py):
    """``build_py`` that also copies :data:`BUNDLED` into the built package."""

    def run(self) -> None:
        super().run()
        for pattern, target in BUNDLED:
            found = sorted(HERE.glob(pattern))
            if not found:
                raise SystemExit(f"segkit build: nothing matches {pattern} in {HERE}")
            dest = Path(self.build_lib) / "segkit" / target
            dest.mkdir(parents=True, exist_ok=True)
            for src in found:
                shutil.copy2(src, dest / src.name)


setup(cmdclass={"build_py": BuildWithTemplates})
