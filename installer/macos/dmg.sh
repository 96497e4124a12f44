#!/usr/bin/env bash
# Pack the signed StaffPulse.app into a dmg, sign it, notarise it with notarytool and staple the ticket.
#
#   installer/macos/dmg.sh dist/StaffPulse.app StaffPulse.dmg
#
# Needs MACOS_SIGN_IDENTITY (as codesign_app.sh) and an App Store Connect API key for notarytool:
# MACOS_NOTARY_KEY (path of the .p8 file), MACOS_NOTARY_KEY_ID, MACOS_NOTARY_ISSUER. The stapled ticket lets
# Gatekeeper accept the dmg offline; the app inside was notarised with it (one submission covers both).
set -euo pipefail

app=${1:?usage: dmg.sh PATH/StaffPulse.app OUT.dmg}
dmg=${2:?usage: dmg.sh PATH/StaffPulse.app OUT.dmg}
identity=${MACOS_SIGN_IDENTITY:?set MACOS_SIGN_IDENTITY}
: "${MACOS_NOTARY_KEY:?set MACOS_NOTARY_KEY to the App Store Connect API key (.p8)}"
: "${MACOS_NOTARY_KEY_ID:?set MACOS_NOTARY_KEY_ID}" "${MACOS_NOTARY_ISSUER:?set MACOS_NOTARY_ISSUER}"

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
ditto "$app" "$staging/StaffPulse.app"
ln -s /Applications "$staging/Applications"  # drag-to-install
hdiutil create -volname StaffPulse -srcfolder "$staging" -fs HFS+ -format UDZO -ov "$dmg"
codesign --force --timestamp --sign "$identity" "$dmg"

result=$(xcrun notarytool submit "$dmg" --key "$MACOS_NOTARY_KEY" --key-id "$MACOS_NOTARY_KEY_ID" \
    --issuer "$MACOS_NOTARY_ISSUER" --wait --timeout 30m --output-format json)
echo "$result"
# A rejected submission still ends the wait normally: the status says whether Apple accepted it.
if ! grep -q '"status" *: *"Accepted"' <<<"$result"; then
    echo "notarisation not accepted; 'xcrun notarytool log ID' says why" >&2
    exit 1
fi
xcrun stapler staple "$dmg"
xcrun stapler validate "$dmg"
spctl --assess --type open --context context:primary-signature --verbose=2 "$dmg"
