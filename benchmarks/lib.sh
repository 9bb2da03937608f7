# Steps shared by the benchmark scripts (sourced from the repository root): provenance files beside every
# result, the BSDS500 data keys of the CPU-budget trainings, and training each model once.

# provenance OUT SCRIPT INVOCATION...: OUT/command.txt (date, the invocation, the commit; "+ uncommitted
# changes" when src, configs or SCRIPT differ from it) and OUT/machine.txt (host, CPU, memory, versions).
provenance() {
  local out=$1 script=$2
  shift 2
  {
    echo "# $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "$*"
    echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src configs "$script" || echo ' + uncommitted changes')"
  } > "$out/command.txt"
  {
    echo "host: $(uname -srm)"; echo "cpus: $(nproc)"; grep -m1 'model name' /proc/cpuinfo || true
    free -g | head -2
    .venv/bin/python -c "import torch, pytorch_lightning as pl; print('torch', torch.__version__, 'threads', torch.get_num_threads(), '| lightning', pl.__version__)"
  } > "$out/machine.txt"
}

# bsds_data DATA: sets the array BSDS_DATA, the data keys that train on BSDS500 train (every image) and
# validate on 16 crops of BSDS500 val in batches of 4 (DATA holds bsds500-trainval/{train,val}).
bsds_data() {
  BSDS_DATA=("data.init_args.source.init_args.path=$1/bsds500-trainval/train"
    data.init_args.source.init_args.val_count=0 data.init_args.source.init_args.split=all
    "data.init_args.val_source={class_path: fnflight.data.sources.ImageFolder, init_args: {path: $1/bsds500-trainval/val, split: all}}"
    data.init_args.val_batch_size=4 data.init_args.limit_val=16)
}

# train_once RUNS MODEL STEPS OUT TRAIN_ARGS...: `fnflight train name=MODEL TRAIN_ARGS...` unless
# RUNS/MODEL/trained_steps_STEPS says it ran (a crashed script resumes where it stopped); that mark, with
# the seconds and the commit of the training, joins OUT/command.txt.
train_once() {
  local runs=$1 model=$2 steps=$3 out=$4
  shift 4
  local mark=$runs/$model/trained_steps_$steps start commit
  if [ -f "$mark" ]; then
    echo "$model: already trained $steps steps ($mark)"
  else
    start=$(date +%s) commit=$(git rev-parse --short HEAD)
    .venv/bin/fnflight train "name=$model" "$@"
    echo "$model: trained $steps steps in $(( $(date +%s) - start )) s at commit $commit" | tee "$mark"
  fi
  cat "$mark" >> "$out/command.txt"
}

# run_setup NAME SUFFIX DEFAULT_STEPS "$@": the arguments of a quality script, DATA_DIR [STEPS] [MODELS...],
# as DATA, STEPS (default DEFAULT_STEPS) and MODELS (default: the array DEFAULT_MODELS); SEED (from the
# environment, default 0); OUT=benchmarks/results/NAME SUFFIX [/seedN] and RUNS=runs/NAME SUFFIX [/seedN]
# (RUNS from the environment wins), both created.
run_setup() {
  local name=$1 suffix=$2 default_steps=$3
  shift 3
  DATA=${1:?usage: $0 DATA_DIR [STEPS] [MODELS...]}
  STEPS=${2:-$default_steps}
  shift $(( $# >= 2 ? 2 : 1 ))
  MODELS=("$@")
  [ ${#MODELS[@]} -gt 0 ] || MODELS=("${DEFAULT_MODELS[@]}")
  SEED=${SEED:-0}
  if [ "$SEED" != 0 ]; then suffix="$suffix/seed$SEED"; fi
  OUT=benchmarks/results/$name$suffix
  RUNS=${RUNS:-runs/$name$suffix}
  mkdir -p "$OUT" "$RUNS"
}

# train_and_export MODEL [EXPORT_ARGS...]: train_once MODEL with the array COMMON, then its weights (weights
# only, loads without unpickling: re-evaluate with fnflight eval ckpt=OUT/MODEL.pt ...) into OUT/MODEL.pt,
# appended to the array WEIGHTS as ckpt=... for the table's evaluation.
train_and_export() {
  local model=$1
  shift
  train_once "$RUNS" "$model" "$STEPS" "$OUT" "model=$model" "${COMMON[@]}"
  .venv/bin/fnflight export "ckpt=$RUNS/$model/checkpoints/last.ckpt" "out=$OUT/$model.pt" overwrite=true "$@"
  WEIGHTS+=("ckpt=$OUT/$model.pt")
}
