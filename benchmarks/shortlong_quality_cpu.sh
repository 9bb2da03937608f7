#!/usr/bin/env bash
# Paper 003 (LSD2) on a CPU budget: does fusion beat either image alone? lsd2_small (short + long), and the
# same U-Net given only the short image (short_only, a denoiser) or only the long one (long_only, a
# deblurrer), trained with ONE identical budget (steps, batch, crops, width, schedule, seed) on short/long
# pairs synthesised from BSDS500 train (validated on BSDS500 val), evaluated together on a short/long test
# set synthesised from Kodak24 next to the floors noisy_short, blurry_long and short_denoise computed in the
# same run. Kodak24 is never trained on.
#
# usage: [SEED=N] benchmarks/shortlong_quality_cpu.sh DATA_DIR [STEPS] [MODELS...]
#   DATA_DIR holds bsds500-trainval/{train,val} and kodak24 (e.g. ../shared/data)
# Results: benchmarks/results/shortlong_quality_cpu/{results.md,results.json,command.txt,machine.txt,
#   comparison_*.png, <model>.pt (weights only)}
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 DATA_DIR [STEPS] [MODELS...]}
STEPS=${2:-6000}
shift $(( $# >= 2 ? 2 : 1 ))
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(lsd2_small short_only long_only)
BIN=.venv/bin
SEED=${SEED:-0}
suffix=""
if [ "$SEED" != 0 ]; then suffix="/seed$SEED"; fi
OUT=benchmarks/results/shortlong_quality_cpu$suffix
RUNS=${RUNS:-runs/shortlong_quality_cpu$suffix}
TESTSET=${TESTSET:-runs/shortlong_quality_cpu/kodak24_shortlong_testset}
mkdir -p "$OUT" "$RUNS"

# 128 px crops, batch 4, the paper's Adam 5e-5 halved at fixed steps (the paper: every 10th of 50 epochs;
# here at 20/40/60/80% of the budget, the same 4 halvings).
COMMON=(data=shortlong_folder logger=csv "out_dir=$RUNS" overwrite=true "seed=$SEED"
  "data.init_args.source.init_args.path=$DATA/bsds500-trainval/train"
  data.init_args.source.init_args.val_count=0 data.init_args.source.init_args.split=all
  "data.init_args.val_source={class_path: fnflight.data.sources.ImageFolder, init_args: {path: $DATA/bsds500-trainval/val, split: all}}"
  data.init_args.crop=128 data.init_args.batch_size=4 data.init_args.val_batch_size=4 data.init_args.limit_val=16
  "trainer.max_steps=$STEPS" trainer.val_check_interval=1000 checkpoint.every_n_train_steps=500
  after_fit.sample=true
  # Adam at 1e-4, 2x the paper's 5e-5 (the committed run trained at train.yaml's former default 1e-4)
  optim.lr=1.0e-4
  "optim.drop_steps=[$((STEPS / 5)),$((STEPS * 2 / 5)),$((STEPS * 3 / 5)),$((STEPS * 4 / 5))]")

{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "SEED=$SEED benchmarks/shortlong_quality_cpu.sh $DATA $STEPS ${MODELS[*]}"
  echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src configs benchmarks/shortlong_quality_cpu.sh || echo ' + uncommitted changes')"
} > "$OUT/command.txt"
{
  echo "host: $(uname -srm)"; echo "cpus: $(nproc)"; grep -m1 'model name' /proc/cpuinfo || true
  free -g | head -2
  $BIN/python -c "import torch, pytorch_lightning as pl; print('torch', torch.__version__, 'threads', torch.get_num_threads(), '| lightning', pl.__version__)"
} > "$OUT/machine.txt"

WEIGHTS=()
for model in "${MODELS[@]}"; do
  done_mark=$RUNS/$model/trained_steps_$STEPS
  if [ -f "$done_mark" ]; then
    echo "$model: already trained $STEPS steps ($done_mark)"
  else
    start=$(date +%s) commit=$(git rev-parse --short HEAD)
    $BIN/fnflight train "model=$model" "name=$model" "${COMMON[@]}"
    echo "$model: trained $STEPS steps in $(( $(date +%s) - start )) s at commit $commit" | tee "$done_mark"
  fi
  cat "$done_mark" >> "$OUT/command.txt"
  # the weights behind each row (weights only; re-evaluate with fnflight eval ckpt=$OUT/$model.pt ...)
  $BIN/fnflight export "ckpt=$RUNS/$model/checkpoints/last.ckpt" "out=$OUT/$model.pt" overwrite=true
  WEIGHTS+=("ckpt=$OUT/$model.pt")
done

if [ ! -f "$TESTSET/manifest.json" ]; then
  $BIN/fnflight testset task=shortlong "source.path=$DATA/kodak24" "out=$TESTSET" seed=0 crop=256
fi
$BIN/fnflight eval "${WEIGHTS[@]}" "testset=$TESTSET" "out=$OUT" overwrite=true
