"""The modules compiled with Cython, how they are built, and a guard against running a stale build.

The matcher's hot path (screening must reach 40,000 records/s on one core) is plain Python with
Cython type annotations: `make install` compiles it to extension modules beside the sources, and the
same source runs interpreted when it is not compiled, as the reference the compiled build is tested
against. Python prefers an extension module to its source, so a guard makes sure a build older than
its source is never the one imported.

    certwatch compile [--force]   # compile what changed (make install runs this)
    CERTWATCH_PURE_PYTHON=1 …     # run the Python source, compiled or not
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
COMPILED = (
    "services.rules.matcher.index",
    "services.rules.matcher.ngrams",  # the n-gram candidate path's inverted index
    "services.rules.matcher.normalise",
    "services.rules.matcher.regions",
    "services.rules.matcher.screening",
    "shared.identifiers",  # credit codes: checked for every registry entry, signal and feed row
)
PURE_PYTHON = "CERTWATCH_PURE_PYTHON"


def source_of(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


def extension_of(module: str) -> Path:
    return source_of(module).with_suffix(importlib.machinery.EXTENSION_SUFFIXES[0])


def is_compiled(module: ModuleType) -> bool:
    """Whether a module was loaded from its compiled extension."""
    return isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader)


def stale(module: str) -> bool:
    """A compiled module older than its source (or missing) must be built again."""
    return older(extension_of(module), source_of(module))


def older(built: Path, source: Path) -> bool:
    return not built.exists() or built.stat().st_mtime < source.stat().st_mtime


class _SourceUnlessFresh(importlib.abc.MetaPathFinder):
    """Loads a compiled module's source when asked to, or when its build is stale (with a warning)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        if not os.environ.get(PURE_PYTHON):
            if not extension_of(fullname).exists():
                return None  # never built: the usual finders load the source
            if not stale(fullname):
                return None  # the usual finders load the extension
            warnings.warn(
                f"{fullname}: the compiled module is older than its source, so the (slower) source runs; "
                "`make install` compiles it again",
                RuntimeWarning,
                stacklevel=2,
            )
        return importlib.util.spec_from_file_location(fullname, source_of(fullname))


def install_guard() -> None:
    """Put the guard ahead of the usual finders (the compiled modules' package calls this on import)."""
    if not any(isinstance(finder, _SourceUnlessFresh) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceUnlessFresh())


def build(force: bool = False) -> list[str]:
    """Compile the stale modules in place (C sources and objects go under .venv); returns their names."""
    from Cython.Build import cythonize as untyped_cythonize
    from setuptools import Extension
    from setuptools.dist import Distribution

    # Cython.Build has no annotations: what this call gives is typed here.
    cythonize: Callable[..., list[Extension]] = untyped_cythonize
    wanted = [m for m in COMPILED if force or stale(m)]
    if not wanted:
        return []
    work = Path(sys.prefix) / "cython-build"
    extensions = [Extension(m, [str(source_of(m).relative_to(ROOT))]) for m in wanted]
    modules = cythonize(extensions, build_dir=str(work / "c"), language_level=3, quiet=True, force=True)
    build_ext = ["build_ext", "--inplace", "--parallel", str(os.cpu_count() or 1), "--build-temp", str(work / "o")]
    dist = Distribution({"ext_modules": modules, "script_args": ["--quiet", *build_ext]})
    cwd = Path.cwd()
    os.chdir(ROOT)  # in place means relative to the sources' root
    try:
        dist.parse_command_line()
        dist.run_commands()
    finally:
        os.chdir(cwd)
    return wanted
