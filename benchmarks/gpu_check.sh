#!/usr/bin/env bash
# The checks to run on a machine with an NVIDIA GPU (docs/performance.md#gpu-checks): the
# cuda-marked tests, then one timed SeeDRecSASRec run on Amazon Home under the paper's protocol,
# on the GPU when torch sees one (RecBole's use_gpu), else on the CPU (a dry run of this script).
#
#   bash benchmarks/gpu_check.sh [DATA_PATH] [OUT_DIR]
#
# DATA_PATH holds amazon-home/ as converted by `recbole-seedrec prepare` (default
# /tmp/seedrec-data); without it the run uses ml-100k. OUT_DIR (default $OUT, else gpu-check/)
# receives device.txt, cuda-tests.txt, the run's log and timings.txt. EPOCHS (default 50) caps
# the timed run. The cuda-marked tests include the distributed one on 1 GPU with nccl
# (tests/test_distributed.py).
set -euo pipefail
data_path=${1:-/tmp/seedrec-data}
out=${2:-${OUT:-gpu-check}}
epochs=${EPOCHS:-50}
mkdir -p "$out"
out=$(cd "$out" && pwd)

python - > "$out/device.txt" <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda)
print("cuda available:", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device:", torch.cuda.get_device_name(0))
PY
cat "$out/device.txt"

# the cuda-marked tests (they skip, with the reason, without a GPU)
python -m pytest -q -m cuda -rs tests/ 2>&1 | tee "$out/cuda-tests.txt"

if [ -f "$data_path/amazon-home/amazon-home.inter" ]; then
    dataset=amazon-home
    data_args=(--config_files benchmarks/configs/amazon-home.yaml "--data_path=$data_path")
else
    dataset=ml-100k
    data_args=()
fi
start=$(date +%s)
python run_recbole_seedrec.py --model SeeDRecSASRec --dataset "$dataset" "${data_args[@]}" \
    --protocol paper "--epochs=$epochs" --use_gpu=True "--checkpoint_dir=$out/saved" \
    --show_progress=False > "$out/seedrec-$dataset.log" 2>&1
wall=$(( $(date +%s) - start ))
{
    echo "SeeDRecSASRec on $dataset, at most $epochs epochs: ${wall} s wall"
    grep -a "protocol: \|training path switches" "$out/seedrec-$dataset.log" \
        | sed 's/^.*INFO  //' | sort -u
    grep -a -c "training \[time" "$out/seedrec-$dataset.log" | sed 's/^/epochs trained: /'
    grep -a "S2IDM epoch\|test result" "$out/seedrec-$dataset.log" | tail -n 3
} | tee "$out/timings.txt"
rm -rf "$out/saved"  # checkpoints stay on the machine that made them
