#!/usr/bin/env bash
# Sign StaffPulse.app inside-out with the hardened runtime, then verify it.
#
#   MACOS_SIGN_IDENTITY="Developer ID Application: Example Ltd (TEAMID)" installer/macos/codesign_app.sh dist/StaffPulse.app
#
# Inside-out: every loose Mach-O (.so, .dylib) first, then the nested frameworks and bundles deepest first, then
# the main executable and the app with the entitlements. Signing the app with --deep instead would give nested
# code the app's entitlements and is deprecated for this. The identity lives in the build machine's keychain
# (the release workflow imports it from its secrets); nothing here reads a certificate from the repo.
set -euo pipefail

app=${1:?usage: codesign_app.sh PATH/StaffPulse.app}
identity=${MACOS_SIGN_IDENTITY:?set MACOS_SIGN_IDENTITY to the Developer ID Application identity}
entitlements="$(cd "$(dirname "$0")" && pwd)/entitlements.plist"
sign=(codesign --force --timestamp --options runtime --sign "$identity")

find "$app/Contents" -type f \( -name '*.so' -o -name '*.dylib' \) -print0 | xargs -0 -n 50 "${sign[@]}"
# Nested bundles, deepest path first, so each is sealed after everything inside it.
find "$app/Contents" -depth -type d \( -name '*.framework' -o -name '*.app' -o -name '*.bundle' \) -print0 |
    while IFS= read -r -d '' nested; do "${sign[@]}" "$nested"; done
"${sign[@]}" --entitlements "$entitlements" "$app/Contents/MacOS/StaffPulse"
"${sign[@]}" --entitlements "$entitlements" "$app"

codesign --verify --strict --deep --verbose=2 "$app"
codesign --display --entitlements - "$app"
