#!/usr/bin/env bash
# Installs the Debian packages the tests use, when run as root; elsewhere names what is
# missing (those tests then skip with that reason, except under CI=true).
set -euo pipefail
# systemd: only for `systemd-analyze verify` of the shipped units (no systemd needs to run);
# postgresql: its client programs (pg_dump, pg_restore) and server ones (throw-away clusters).
packages=(oathtool zbar-tools chromium nginx openssh-server pamtester libpam0g-dev gcc systemd
          postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm installs axe-core for the accessibility checks of the browser tests; any npm will do
# (Node.js from elsewhere brings its own, and Debian's package would clash with it).
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "not root: missing Debian packages ${missing[*]}; tests needing them will skip" >&2
fi
