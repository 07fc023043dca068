# Sourced by the scripts: installs the Debian packages the build, the tests and the demo use.
# apt-get update runs once, and only when something is missing.
SELFHEAL_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  libunwind-dev libpcre2-dev libdw-dev libelf-dev libssl-dev openssl libcurl4-openssl-dev
  googletest libgtest-dev libbenchmark-dev nlohmann-json3-dev
  python3 python3-pytest python3-jsonschema
  clang libclang-rt-14-dev clang-format
  wrk valgrind strace curl prometheus procps file binutils man-db
)

selfheal_install_deps() {
  local missing=()
  for p in "${SELFHEAL_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # Debian starts apache2 on :80 when it is installed; the project never uses that server.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet apache2 2>/dev/null; then
    systemctl stop apache2 || true
  fi
}

selfheal_build() {
  local dir="${1:-build}"; shift || true
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  cmake --build "$dir" -j"$(nproc)"
}
