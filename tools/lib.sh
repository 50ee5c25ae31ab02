# Shared helpers for the tools/ scripts (sourced, not run): the checkout root,
# the ports every script agrees on, and a one-line logger that names the script.
# Scripts source it as: source "$(dirname "${BASH_SOURCE[0]}")/lib.sh".

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_PORT="${JOBQUEUE_PG_PORT:-54329}"
SERVER_PORT="${JOBQUEUE_PORT:-50051}"
SHIM_PORT="${JOBQUEUE_SHIM_PORT:-8080}"

say() { echo "$(basename "$0"): $*"; }
die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
