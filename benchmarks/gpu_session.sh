#!/usr/bin/env bash
# One call on a lent GPU (the `device` tool): environment, egg-box speed and profile, the GPU tests
# (CPU/CUDA agreement), the full-scale storm, the validation suite on CUDA. Everything lands in $OUT.
#
# Prepare on the CPU machine, in the repository root (the GPU image has numba-cuda but no GIS stack,
# and compiling the CPU kernels there would take minutes of the lent device):
#   printf '/.gpu/\n/.whl/\n' >> .git/info/exclude
#   P="--no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
#      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
#   python -m pip download $P -d .whl/np numpy==2.4.6        # only used if numba-cuda fails with the image's numpy
#   python -m pip download --no-deps --only-binary=:all: -d .whl h5netcdf==1.8.3 affine==3.0.1
#   python cli.py sample dongguanxi --resolution 5 --out CASE5
#   python benchmarks/bench_cuda.py --export-inputs .gpu --case CASE5          # .gpu/case5.npz, .gpu/sample30.npz
#   FLOODKIT_CPU_REFERENCE=.gpu/ref FLOODKIT_GPU_INPUTS=.gpu python -c \
#     "import sys; sys.path[:0] = ['.', 'tests']; import test_inundation_cuda as T; T.prepare_cpu_references()"
# Then, with the device tool: run(command="bash benchmarks/gpu_session.sh", carry=[".gpu", ".whl"]).
# Stages (default all): env bench tests full validation; e.g. `bash benchmarks/gpu_session.sh bench full`.
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
STAGES=${*:-env bench tests full validation}
export PYTHONUNBUFFERED=1 FLOODKIT_GPU_INPUTS=$PWD/.gpu FLOODKIT_CPU_REFERENCE=$PWD/.gpu/ref
BENCH_SECONDS=${BENCH_SECONDS:-3}
has() { [[ " $STAGES " == *" $1 "* ]]; }
stamp() { echo "== $(date +%T) $*"; }

# always: the carried wheels, and numpy 2.4 where numba-cuda does not import with the image's numpy
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
  >"$OUT/pip.txt" 2>&1 || echo "wheel install failed (see pip.txt)"
export PYTHONPATH=$PWD:/tmp/site
if ! python3 -c "from numba import cuda
@cuda.jit
def k(a): a[0] = 1.0
k[1, 1](cuda.device_array(1))" >/dev/null 2>"$OUT/numba_cuda_import.txt"; then
  echo "numba-cuda does not start with the image's numpy: using the carried numpy 2.4" | tee -a "$OUT/env.txt"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/np24 .whl/np/*.whl \
    >>"$OUT/pip.txt" 2>&1
  export PYTHONPATH=/tmp/np24:$PYTHONPATH
fi

if has env; then
  {
    stamp env
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit \
      --format=csv
    nvidia-smi -L
    python3 - <<'EOF'
import importlib.metadata as md, platform, sys
import numpy
from numba import cuda
print("python", sys.version.split()[0], platform.machine(), "numpy", numpy.__version__,
      *(f"{p} {md.version(p)}" for p in ("numba", "numba-cuda", "cuda-core", "cuda-bindings", "xarray", "h5py")))
d = cuda.get_current_device()
print("device", d.name, "cc", d.compute_capability, "SMs", d.MULTIPROCESSOR_COUNT)
EOF
    nproc; grep -m1 "model name" /proc/cpuinfo
  } 2>&1 | tee -a "$OUT/env.txt"
fi

if has bench; then
  stamp bench
  timeout 150 python3 benchmarks/bench_cuda.py --profile --seconds "$BENCH_SECONDS" 2>&1 | tee "$OUT/bench.txt"
fi

if has tests; then
  stamp "tests (agreement)"
  timeout 120 python3 -m pytest -q -s -m gpu -p no:cacheprovider -k "not validation" tests/test_inundation_cuda.py \
    2>&1 | tee "$OUT/gpu_tests.txt"
fi

if has full; then
  stamp full
  timeout 150 python3 benchmarks/bench_cuda.py --sizes "" --full-scale --inputs .gpu/case5.npz --out /tmp/prod5 \
    --fields "$OUT" 2>&1 | tee "$OUT/full.txt"
  cp /tmp/prod5/summary.json "$OUT/full_summary.json" 2>/dev/null
  cp /tmp/prod5/water_balance.csv "$OUT/full_balance.csv" 2>/dev/null
fi

if has validation; then
  stamp "tests (validation suite on CUDA)"
  timeout 120 python3 -m pytest -q -s -m gpu -p no:cacheprovider -k validation tests/test_inundation_cuda.py \
    2>&1 | tee "$OUT/gpu_validation.txt"
fi
stamp done
