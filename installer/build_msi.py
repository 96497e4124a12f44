"""Build the StaffPulse MSI from a frozen folder with wixl; the tests and the release workflow both use this.

    python -m installer.build_msi dist/StaffPulse StaffPulse.msi      (from the repo's root)

Steps: generate ``payload.wxs`` (one component per file of the frozen folder, with stable ids and GUIDs
derived from the file's path, so an upgrade recognises the same file), run ``wixl`` on ``StaffPulse.wxs`` and
the payload, then fix up with ``msibuild`` what wixl 0.101 cannot express: ``SecureCustomProperties`` (wixl
writes its own row for MajorUpgrade and rejects a second one in the source, and without our public properties
in it a per-machine install drops SERVERURL / ENROLLTOKEN / IDLETHRESHOLD on the way to the elevated part that
writes the registry), the conditions that write each policy value only when its property was given, and the
Upgrade row's attributes (a rebuild of the same version replaces the installed one: ``UPGRADE_ATTRIBUTES``).

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
# Programs and Features' Contact, Help link and About link (placeholders until the project has its pages; the
# options --contact, --help-url and --about-url replace them).
SUPPORT = {"Contact": "StaffPulse support", "HelpUrl": "https://staffpulse.example/help",
           "AboutUrl": "https://staffpulse.example/"}
# The Upgrade row that finds older versions to replace: also find the same version (msidbUpgradeAttributes-
# VersionMaxInclusive, 512), so a rebuild of one version replaces the installed one instead of installing beside it
# (a new ProductCode each build). wixl 0.101 writes 1 (MigrateFeatures) and has no AllowSameVersionUpgrades.
UPGRADE_ATTRIBUTES = 1 | 512
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


def build_msi(frozen: Path, output: Path, version: str | None = None, support: dict[str, str] | None = None,
              ) -> Path:
    """``frozen``: PyInstaller's one-folder output; ``support``: ``SUPPORT``'s keys, to replace its values. Writes
    ``output`` (replaced only when the build worked)."""
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
        defines = {"Version": version or VERSION, "SourceDir": "payload", "IconFile": "StaffPulse.ico",
                   **SUPPORT, **(support or {})}
        _run(["wixl", "--arch", "x64", *(arg for name, value in defines.items() for arg in ("-D", f"{name}={value}")),
              "-o", str(built), str(work / SOURCE.name), str(work / "payload.wxs")])
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
        # Attributes is part of the Upgrade table's key, which libmsi cannot UPDATE: the row is replaced.
        upgrade_code = next(line.split("\t")[1] for line in existing.splitlines() if line.startswith("UpgradeCode\t"))
        for verb in ("DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'",
                     "INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) VALUES "
                     f"('{upgrade_code}', '{version or VERSION}', {UPGRADE_ATTRIBUTES}, 'WIX_UPGRADE_DETECTED')"):
            _run(["msibuild", str(built), "-q", verb])
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(built, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the StaffPulse MSI from a frozen folder with wixl.")
    parser.add_argument("frozen", type=Path, help="PyInstaller's output folder (dist/StaffPulse)")
    parser.add_argument("output", type=Path, help="the .msi to write")
    parser.add_argument("--version", help="ProductVersion (default: protocol/version.py's, the release's)")
    parser.add_argument("--contact", help=f"Programs and Features' Contact (default: {SUPPORT['Contact']})")
    parser.add_argument("--help-url", help=f"its Help link (default: {SUPPORT['HelpUrl']})")
    parser.add_argument("--about-url", help=f"its About link (default: {SUPPORT['AboutUrl']})")
    args = parser.parse_args(argv)
    given = {"Contact": args.contact, "HelpUrl": args.help_url, "AboutUrl": args.about_url}
    try:
        print(build_msi(args.frozen.resolve(), args.output, args.version,
                        {name: value for name, value in given.items() if value}))
    except BuildError as error:
        print(f"build_msi: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
