#!/usr/bin/env bash
# Set up a fresh Debian machine (run as root) and build tenzip in build/ (Release), then
# compress and decompress one real weights file to show that it works.
# Re-runs are quick: packages are installed only if missing, and the build is incremental.
set -euo pipefail
cd "$(dirname "$0")"

PKGS=(cmake g++ pkg-config libzstd-dev libxxhash-dev libcli11-dev libfmt-dev libgtest-dev
      libbenchmark-dev nlohmann-json3-dev python3 python3-venv clang libclang-rt-14-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
else
  echo "setup: all build packages are installed"
fi

JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS"

# A first round trip on a real trained model file: detected as safetensors, every tensor coded
# with its own dtype, restored byte for byte, one tensor read alone.
CORPUS=${TENZIP_CORPUS_DIR:-../shared/corpus}
sample="$CORPUS/llm/tl_reverse_model.safetensors"
if [[ -f $sample ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo
  echo "setup: build/tenzip compress $sample"
  build/tenzip compress -o "$tmp/model.safetensors.tnz" "$sample"
  build/tenzip decompress -o "$tmp/model.safetensors" "$tmp/model.safetensors.tnz"
  cmp "$sample" "$tmp/model.safetensors"
  build/tenzip extract "$tmp/model.safetensors.tnz" --tensor b1.a.k_proj.W -o "$tmp/k_proj.bin"
  echo "setup: round trip OK (decompressed file identical); extracted b1.a.k_proj.W ($(stat -c %s "$tmp/k_proj.bin") bytes)."
  echo "setup: next: scripts/test.sh"
else
  echo "setup: $sample not found; skipped the demo round trip"
fi
