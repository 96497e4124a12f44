"""Build the StaffPulse MSI from a frozen folder with wixl; the tests and the release workflow both use this.

    python -m installer.build_msi dist/StaffPulse StaffPulse.msi      (from the repo's root)

Steps: generate ``payload.wxs`` (one component per file of the frozen folder, with stable ids and GUIDs
derived from the file's path, so an upgrade recognises the same file), run ``wixl`` on ``StaffPulse.wxs`` and
the payload, then fix up with ``msibuild`` what wixl 0.101 cannot express: ``SecureCustomProperties`` (wixl
writes its own row for MajorUpgrade and rejects a second one in the source, and without our public properties
in it a per-machine install drops SERVERURL / ENROLLTOKEN / IDLETHRESHOLD on the way to the elevated part that
writes the registry), and the conditions that write each policy value only when its property was given.

Any failure is a ``BuildError`` naming the tool or file; nothing half-built is left at the output path.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from xml.sax.saxutils import quoteattr

from installer import icon
from protocol.version import VERSION

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE = HERE / "windows" / "StaffPulse.wxs"
MAIN_EXE_NAMES = ("StaffPulse.exe", "StaffPulse")  # Windows build; the Linux build our tests use as payload
PUBLIC_PROPERTIES = ("SERVERURL", "ENROLLTOKEN", "IDLETHRESHOLD")
# Each policy value is written only when its property was given (wixl 0.101 has no Component/Condition).
CONDITIONS = {"PolicyServerUrl": "SERVERURL", "PolicyEnrollToken": "ENROLLTOKEN",
              "PolicyIdleThreshold": "IDLETHRESHOLD"}
GUID_NAMESPACE = uuid.UUID("22cdf245-e6aa-47cc-9c4b-189a30e82933")  # never change: component GUIDs derive from it


class BuildError(Exception):
    pass


def _id(prefix: str, relative: str) -> str:
    return prefix + hashlib.sha1(relative.encode()).hexdigest()[:32]


def payload_wxs(folder: Path) -> str:
    """WiX source for every file under ``folder``: a Directory tree under INSTALLDIR and ComponentGroup
    ``Payload``. The main executable's File id is ``MainExe`` (the Run key points at it)."""
    main = next((name for name in MAIN_EXE_NAMES if (folder / name).is_file()), None)
    if main is None:
        raise BuildError(f"{folder}: no {' or '.join(MAIN_EXE_NAMES)} in it: is it a frozen StaffPulse folder?")
    components: list[str] = []

    def directory(path: Path, depth: int) -> list[str]:
        pad = "  " * depth
        lines = []
        for entry in sorted(path.iterdir(), key=lambda p: p.name):
            relative = entry.relative_to(folder).as_posix()
            if entry.is_dir():
                lines.append(f"{pad}<Directory Id={quoteattr(_id('d', relative))} Name={quoteattr(entry.name)}>")
                lines += directory(entry, depth + 1)
                lines.append(f"{pad}</Directory>")
                continue
            is_main = relative == main
            component = "MainExeComponent" if is_main else _id("c", relative)
            file_id = "MainExe" if is_main else _id("f", relative)
            guid = str(uuid.uuid5(GUID_NAMESPACE, relative)).upper()
            source = quoteattr(f"$(var.SourceDir)/{relative}")
            lines.append(f'{pad}<Component Id="{component}" Guid="{guid}" Win64="yes">'
                         f'<File Id="{file_id}" Name={quoteattr(entry.name)} Source={source} KeyPath="yes"/>'
                         "</Component>")
            components.append(component)
        return lines

    tree = directory(folder, 3)
    refs = "\n".join(f'      <ComponentRef Id="{c}"/>' for c in components)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">\n'
            '  <Fragment>\n    <DirectoryRef Id="INSTALLDIR">\n' + "\n".join(tree) + "\n    </DirectoryRef>\n"
            '  </Fragment>\n  <Fragment>\n    <ComponentGroup Id="Payload">\n' + refs + "\n    </ComponentGroup>\n"
            "  </Fragment>\n</Wix>\n")


def _run(command: list[str]) -> str:
    tool = shutil.which(command[0])
    if tool is None:
        raise BuildError(f"{command[0]} is not installed (Debian: apt-get install wixl msitools)")
    done = subprocess.run([tool, *command[1:]], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BuildError(f"{command[0]} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def build_msi(frozen: Path, output: Path, version: str | None = None) -> Path:
    """``frozen``: PyInstaller's one-folder output. Writes ``output`` (replaced only when the build worked)."""
    if not frozen.is_dir():
        raise BuildError(f"{frozen}: not a folder (build it first: pyinstaller build_windows.spec)")
    with tempfile.TemporaryDirectory(prefix="staffpulse-msi-") as scratch:
        work = Path(scratch)
        # wixl finds sources only by paths relative to the .wxs files, so everything meets in one folder.
        (work / "payload.wxs").write_text(payload_wxs(frozen), encoding="utf-8")
        shutil.copy(SOURCE, work / SOURCE.name)
        (work / "payload").symlink_to(frozen.resolve(), target_is_directory=True)
        icon.write(work)
        built = work / "StaffPulse.msi"
        _run(["wixl", "--arch", "x64", "-D", f"Version={version or VERSION}", "-D", "SourceDir=payload",
              "-D", "IconFile=StaffPulse.ico", "-o", str(built), str(work / SOURCE.name), str(work / "payload.wxs")])
        existing = _run(["msiinfo", "export", str(built), "Property"])
        secure = next((line.split("\t", 1)[1] for line in existing.splitlines()
                       if line.startswith("SecureCustomProperties\t")), "")
        names = [name for name in secure.split(";") if name] + list(PUBLIC_PROPERTIES)
        value = ";".join(dict.fromkeys(names))
        verb = (f"UPDATE `Property` SET `Value` = '{value}' WHERE `Property` = 'SecureCustomProperties'" if secure
                else f"INSERT INTO `Property` (`Property`, `Value`) VALUES ('SecureCustomProperties', '{value}')")
        _run(["msibuild", str(built), "-q", verb])
        for component, condition in CONDITIONS.items():
            _run(["msibuild", str(built), "-q",
                  f"UPDATE `Component` SET `Condition` = '{condition}' WHERE `Component` = '{component}'"])
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(built, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the StaffPulse MSI from a frozen folder with wixl.")
    parser.add_argument("frozen", type=Path, help="PyInstaller's output folder (dist/StaffPulse)")
    parser.add_argument("output", type=Path, help="the .msi to write")
    parser.add_argument("--version", help="ProductVersion (default: protocol/version.py's, the release's)")
    args = parser.parse_args(argv)
    try:
        print(build_msi(args.frozen.resolve(), args.output, args.version))
    except BuildError as error:
        print(f"build_msi: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
