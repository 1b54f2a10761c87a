# Sourced by scripts/gpu-check.sh and scripts/gpu-bench.sh: the CUDA libraries on LD_LIBRARY_PATH (as set, else
# every directory of the pip `nvidia-*` wheels of this Python; docs/gpu.md), and `say`, a line with the seconds
# since the script started.
if [ -z "${LD_LIBRARY_PATH:-}" ]; then
  site=$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null)
  LD_LIBRARY_PATH=$(find "$site" -path '*nvidia*' -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
  export LD_LIBRARY_PATH
fi
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0)) s] $*"; }
