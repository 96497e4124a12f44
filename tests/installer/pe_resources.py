"""Run by the Windows CPython under Wine, which has pefile (PyInstaller's dependency there; the Linux venv has
no use for it): prints as JSON what Explorer's Details tab and IT's inventory tools read from an exe.

    python.exe pe_resources.py StaffPulse.exe
"""

import hashlib
import json
import sys

import pefile

RT_ICON, RT_GROUP_ICON = pefile.RESOURCE_TYPE["RT_ICON"], pefile.RESOURCE_TYPE["RT_GROUP_ICON"]


def resources(pe: pefile.PE, kind: int) -> list[bytes]:
    """The raw data of every resource of ``kind``, in every language."""
    found = []
    for entry in pe.DIRECTORY_ENTRY_RESOURCE.entries:
        if entry.id != kind:
            continue
        for named in entry.directory.entries:
            for language in named.directory.entries:
                found.append(pe.get_data(language.data.struct.OffsetToData, language.data.struct.Size))
    return found


def main(path: str) -> None:
    pe = pefile.PE(path)
    strings = {key.decode(): value.decode() for info in pe.FileInfo[0] if info.Key == b"StringFileInfo"
               for table in info.StringTable for key, value in table.entries.items()}
    fixed = pe.VS_FIXEDFILEINFO[0]
    print(json.dumps({
        "subsystem": pefile.SUBSYSTEM_TYPE[pe.OPTIONAL_HEADER.Subsystem],
        "strings": strings,
        "file_version": [fixed.FileVersionMS >> 16, fixed.FileVersionMS & 0xFFFF,
                         fixed.FileVersionLS >> 16, fixed.FileVersionLS & 0xFFFF],
        "icon_groups": len(resources(pe, RT_GROUP_ICON)),
        "icons": sorted(hashlib.sha256(data).hexdigest() for data in resources(pe, RT_ICON)),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
