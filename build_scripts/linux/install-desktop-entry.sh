#!/bin/sh
# Add LAN Chat to your desktop's application menu (for you only; no root needed).
# Run it from the unpacked LANChat folder, wherever you keep it:  ./install-desktop-entry.sh
# Run it again after moving the folder. To take it out again:  ./install-desktop-entry.sh --remove
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data="${XDG_DATA_HOME:-$HOME/.local/share}"
entry="$data/applications/lanchat.desktop"
icon="$data/icons/hicolor/256x256/apps/lanchat.png"

if [ "${1:-}" = "--remove" ]; then
    rm -f "$entry" "$icon"
    echo "LAN Chat removed from the application menu."
    exit 0
fi
[ -x "$here/LANChat" ] || { echo "LANChat not found beside this script ($here)" >&2; exit 1; }
mkdir -p "$(dirname "$entry")" "$(dirname "$icon")"
cp "$here/lanchat.png" "$icon"
# The menu needs the executable's full path. Desktop entries unescape twice (string, then the
# quoted argument), so a backslash becomes four and " ` $ get two backslashes each.
exec_arg=$(printf '%s' "$here/LANChat" | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g')
try_exec=$(printf '%s' "$here/LANChat" | sed -e 's/\\/\\\\/g')
{
    grep -v -e '^Exec=' -e '^TryExec=' "$here/lanchat.desktop"
    printf 'Exec="%s"\nTryExec=%s\n' "$exec_arg" "$try_exec"
} > "$entry"
chmod 644 "$entry"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$data/applications" || true
fi
echo "LAN Chat added to the application menu ($entry)."
