#!/usr/bin/env bash
# The CUDA paths CPU tests cannot run (fp16/bf16 with the gradient scaler, channels-last, torch.compile, NCCL with
# one and two processes, StyleGAN2 256 px distillation steps per second, the CUDA-marked tests), in one pass of
# under 10 minutes; writes benchmarks/results/gpu_check.json. See benchmarks/gpu_check.py.
#
#   benchmarks/gpu_check.sh            # on a machine with a GPU
#   benchmarks/gpu_check.sh --dry      # or GANTRANSFER_GPU_DRY=1: the same paths on CPU at tiny sizes
#                                      # (skipping what needs CUDA, and saying so); writes gpu_check_dry.json
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [[ "${1:-}" == "--dry" || -n "${GANTRANSFER_GPU_DRY:-}" && "${GANTRANSFER_GPU_DRY}" != "0" ]]; then
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
fi
exec timeout 590 "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
