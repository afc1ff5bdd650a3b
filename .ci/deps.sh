#!/usr/bin/env bash
# What the build and the tests need from the machine, checked by what each step actually uses (a file, a library, a
# binary), never by a package's name alone, so a partial install is found and repaired.
#   .ci/deps.sh check     names every missing thing and the package that provides it; exit 1 if any (seconds)
#   .ci/deps.sh install   installs the missing Debian packages and the Python test venv, then checks
# The Python venv (grpcio + grpcio-reflection from PyPI, for the off-the-shelf reflection test) lives at
# $DANCU_PYVENV (default: <target dir>/pyvenv), outside the source tree.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
pyvenv="${DANCU_PYVENV:-$target_dir/pyvenv}"
python_packages=(grpcio==1.85.1 grpcio-reflection==1.85.1)

# Each row: package | what is checked | the check (a shell condition).
checks=(
  "clang|clang (bindgen's system headers for RocksDB)|command -v clang"
  "libclang-dev|libclang.so (bindgen, RocksDB's bindings)|ldconfig -p | grep -Eq 'libclang(-[0-9.]+)?\\.so'"
  "protobuf-compiler|protoc (etcd-client's build script, bench)|command -v protoc"
  "libprotobuf-dev|/usr/include/google/protobuf/descriptor.proto (protoc's well-known types)|test -f /usr/include/google/protobuf/descriptor.proto"
  "etcd-server|etcd (bench compare's peer)|command -v etcd"
  "iproute2|ip (network namespaces of the consistency suite)|command -v ip"
  "faketime|libfaketime (the consistency suite's clock faults)|ls /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1"
  "python3-venv|python3 -m venv (the reflection test's venv)|python3 -c 'import venv, ensurepip'"
)

missing_packages() {
  local row pkg what test
  for row in "${checks[@]}"; do
    IFS='|' read -r pkg what test <<<"$row"
    if ! bash -c "$test" >/dev/null 2>&1; then
      echo "$pkg"
    fi
  done
}

venv_ok() {
  "$pyvenv/bin/python" -c 'import grpc, grpc_reflection.v1alpha.proto_reflection_descriptor_database, google.protobuf.descriptor_pool' >/dev/null 2>&1
}

check() {
  local row pkg what test bad=0
  for row in "${checks[@]}"; do
    IFS='|' read -r pkg what test <<<"$row"
    if ! bash -c "$test" >/dev/null 2>&1; then
      echo "doctor: missing $what — Debian package $pkg" >&2
      bad=1
    fi
  done
  if ! venv_ok; then
    echo "doctor: missing the Python test venv at $pyvenv (${python_packages[*]} from PyPI) — run: make deps" >&2
    bad=1
  fi
  if [ "$bad" -ne 0 ]; then
    echo "doctor: run 'make deps' (as root or with sudo) to install what is missing" >&2
    return 1
  fi
  echo "doctor: every build and test dependency is present"
}

install() {
  local missing sudo=""
  missing=$(missing_packages | sort -u | tr '\n' ' ')
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  if [ -n "${missing// /}" ]; then
    echo "deps: installing Debian packages: $missing"
    $sudo apt-get update -qq &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
      { echo "deps: apt-get install failed" >&2; check; return 1; }
  fi
  if ! venv_ok; then
    echo "deps: creating the Python test venv at $pyvenv"
    rm -rf "$pyvenv"
    python3 -m venv "$pyvenv" &&
      "$pyvenv/bin/pip" install -q --disable-pip-version-check "${python_packages[@]}" ||
      { echo "deps: creating the Python venv failed" >&2; check; return 1; }
  fi
  check
}

case "${1:-check}" in
  check) check ;;
  install) install ;;
  *) echo "usage: $0 check|install" >&2; exit 2 ;;
esac
