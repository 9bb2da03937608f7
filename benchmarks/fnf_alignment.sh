#!/usr/bin/env bash
# The learned flash aligner (issue 15; an fnflight extension, not in paper 000): train model=flash_aligner on
# BSDS500 train with the DeepFnF protocol's shake (training draws: the authors' homography, scale about the
# source origin), then measure the residual misalignment on the Kodak24 protocol test set and on the three REAL
# FAID pairs of faid-samples warped by protocol homographies (both manifests hold the true warps).
#
# usage: benchmarks/fnf_alignment.sh DATA_DIR [STEPS]   (DATA_DIR holds bsds500-trainval, kodak24, faid-samples)
# Results: benchmarks/results/fnf_alignment/{results.json,table.md,command.txt,machine.txt,flash_aligner.pt}
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 DATA_DIR [STEPS]}
STEPS=${2:-2000}
BIN=.venv/bin
OUT=benchmarks/results/fnf_alignment
RUNS=runs/fnf_protocol2
KODAK=$RUNS/kodak24_testset
FAID=$RUNS/faid_testset
mkdir -p "$OUT" "$RUNS"
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "benchmarks/fnf_alignment.sh $DATA $STEPS"
  echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src configs benchmarks/fnf_alignment*.* || echo ' + uncommitted changes')"
} > "$OUT/command.txt"
{
  echo "host: $(uname -srm)"; echo "cpus: $(nproc)"; grep -m1 'model name' /proc/cpuinfo || true
  $BIN/python -c "import torch; print('torch', torch.__version__, 'threads', torch.get_num_threads())"
} > "$OUT/machine.txt"

[ -f "$KODAK/manifest.json" ] || $BIN/fnflight testset task=fnf "source.path=$DATA/kodak24" "out=$KODAK" seed=0 crop=448
[ -f "$FAID/manifest.json" ] || $BIN/fnflight testset task=fnf source.kind=faid "source.path=$DATA/faid-samples" \
  "out=$FAID" seed=0 crop=224

done_mark=$RUNS/flash_aligner/trained_steps_$STEPS
if [ ! -f "$done_mark" ]; then
  start=$(date +%s) commit=$(git rev-parse --short HEAD)
  # 224 crops (a homography fit needs some extent; the shake is drawn for the 448 frame as in DeepFnF's runs),
  # Adam at 1e-3 with drops at 70% / 90% of the budget (the fnf_quality_cpu recipe's schedule)
  $BIN/fnflight train model=flash_aligner name=flash_aligner data=fnf_folder logger=csv "out_dir=$RUNS" \
    overwrite=true seed=0 "data.init_args.source.init_args.path=$DATA/bsds500-trainval/train" \
    data.init_args.source.init_args.val_count=0 data.init_args.source.init_args.split=all \
    "data.init_args.val_source={class_path: fnflight.data.sources.ImageFolder, init_args: {path: $DATA/bsds500-trainval/val, split: all}}" \
    data.init_args.crop=224 data.init_args.batch_size=4 data.init_args.val_batch_size=4 data.init_args.limit_val=16 \
    "trainer.max_steps=$STEPS" trainer.val_check_interval=500 checkpoint.every_n_train_steps=500 \
    optim.lr=1.0e-3 "optim.drop_steps=[$((STEPS * 7 / 10)),$((STEPS * 9 / 10))]"
  echo "flash_aligner: trained $STEPS steps in $(( $(date +%s) - start )) s at commit $commit" | tee "$done_mark"
fi
cat "$done_mark" >> "$OUT/command.txt"
best=$(ls "$RUNS"/flash_aligner/checkpoints/best-*.ckpt | tail -1)
$BIN/fnflight export "ckpt=$best" "out=$OUT/flash_aligner.pt" overwrite=true
$BIN/python benchmarks/fnf_alignment_eval.py "$OUT/flash_aligner.pt" "$OUT" kodak24="$KODAK" faid_real="$FAID"
