"""The installer sources that only Windows and macOS run, checked as far as Linux can: the ADMX template
matches the keys the agent reads, the release workflow parses and names files that exist, the macOS scripts
pass shellcheck and the entitlements parse."""

from __future__ import annotations

import plistlib
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from agent.policy import ALLOW_PLAINTEXT_TOKEN, ENROLL_TOKEN, IDLE_THRESHOLD, SERVER_URL
from agent.policy._windows import KEY
from installer.frozen_checks import FreezeError, require_qt_platform_plugin
from protocol.defaults import INTERVAL_RANGE_S
from support.xdisplay import need_tool

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ROOT / "installer" / "windows"
MACOS = ROOT / "installer" / "macos"
NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}


def reference(element: ET.Element, attribute: str, table: str) -> str:
    """The id in an ADMX ``$(string.Id)`` / ``$(presentation.Id)`` reference."""
    match = re.fullmatch(rf"\$\({table}\.(\w+)\)", element.get(attribute, ""))
    assert match, f"{attribute}={element.get(attribute)!r}"
    return match.group(1)


def test_admx_sets_exactly_the_keys_the_agent_reads() -> None:
    admx = ET.parse(WINDOWS / "StaffPulse.admx").getroot()
    adml = ET.parse(WINDOWS / "en-US" / "StaffPulse.adml").getroot()
    strings = {s.get("id") for s in adml.iterfind(".//p:string", NS)}
    presentations = {p.get("id") for p in adml.iterfind(".//p:presentation", NS)}
    values = {}
    for policy in admx.iterfind(".//p:policy", NS):
        assert policy.get("key") == KEY and policy.get("class") == "Machine"
        assert reference(policy, "displayName", "string") in strings
        assert reference(policy, "explainText", "string") in strings
        assert reference(policy, "presentation", "presentation") in presentations
        [element] = list(policy.find("p:elements", NS) or [])
        values[element.get("valueName")] = element
    assert set(values) == {SERVER_URL, ENROLL_TOKEN, IDLE_THRESHOLD, ALLOW_PLAINTEXT_TOKEN}
    idle = values[IDLE_THRESHOLD]
    assert idle.tag.endswith("decimal"), "REG_DWORD, as the MSI writes it"
    assert (int(idle.get("minValue", "")), int(idle.get("maxValue", ""))) == INTERVAL_RANGE_S
    flag = values[ALLOW_PLAINTEXT_TOKEN]
    assert flag.tag.endswith("boolean")
    written = {part: flag.find(f"p:{part}/p:decimal", NS) for part in ("trueValue", "falseValue")}
    assert {part: value.get("value") for part, value in written.items() if value is not None} == {
        "trueValue": "1", "falseValue": "0"}, "REG_DWORD 1 and 0, what agent.policy reads as allowed or not"


def test_release_workflow_builds_on_windows_and_macos_with_files_that_exist() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    runners = {job["runs-on"] for job in workflow["jobs"].values()}
    assert {"windows-latest", "macos-latest"} <= runners
    scripts = "\n".join(step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"])
    modules = set(re.findall(r"python3? -m installer\.(\w+)", scripts))
    assert modules == {"sign", "build_msi", "release_version", "lifecycle_checks"}
    for module in modules:
        assert (ROOT / "installer" / f"{module}.py").is_file()
    for script in re.findall(r"installer/macos/\S+\.sh", scripts):
        assert (ROOT / script).is_file(), script
    assert "build_windows.spec" in scripts and "--self-test" in scripts


def test_macos_scripts_and_entitlements() -> None:
    scripts = sorted(MACOS.glob("*.sh"))
    assert [s.name for s in scripts] == ["codesign_app.sh", "dmg.sh"]
    done = subprocess.run([need_tool("shellcheck"), *map(str, scripts)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    entitlements = plistlib.loads((MACOS / "entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.security.cs.allow-unsigned-executable-memory": True}


def test_a_freeze_without_qts_platform_plugin_fails_naming_it() -> None:
    collected = [("PySide6/plugins/platforms/qwindows.dll", "C:/x/qwindows.dll", "BINARY"),
                 ("PySide6\\Qt6Core.dll", "C:/x/Qt6Core.dll", "BINARY")]
    require_qt_platform_plugin(collected, "win32")
    with pytest.raises(FreezeError, match=r"libqcocoa\.dylib"):
        require_qt_platform_plugin(collected, "darwin")
    with pytest.raises(FreezeError, match=r"qwindows\.dll was not collected"):
        require_qt_platform_plugin(collected[1:], "win32")
    require_qt_platform_plugin([("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY")], "linux")
