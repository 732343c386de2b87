#!/usr/bin/env bash
# Trains the shipped checkpoints and runs every benchmark, in order, one process at a time
# (2 cores: never two heavy jobs at once). Results: benchmarks/results/*.json; then
# `python benchmarks/report.py` writes docs/benchmarks.md. Run from the repository root:
#   bash benchmarks/run_all.sh [stage ...]      stages: ship quality phasesweep speed trajectory unseen tokens transformers backbones
#   (unseen-eval re-scores an existing runs/paul15_no_mep_g2m without training it again)
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
stages=${*:-ship quality phasesweep speed trajectory unseen tokens transformers backbones}
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
for st in $stages; do case $st in
ship)
  log "train checkpoints/pbmc68k"
  scdiff train --data pbmc68k --conditions bulk_labels,phase --ae-epochs 300 --threads 2 --out checkpoints/pbmc68k
  log "train checkpoints/paul15"
  scdiff train --data paul15 --conditions paul15_clusters,phase --threads 2 --out checkpoints/paul15 ;;
quality)
  for g in free classifier; do
    python benchmarks/quality.py --checkpoint checkpoints/pbmc68k --guidance $g --rare CD34+ --name quality_pbmc68k_$g
    python benchmarks/quality.py --checkpoint checkpoints/paul15 --guidance $g --name quality_paul15_$g
    python benchmarks/quality.py --checkpoint checkpoints/paul15 --guidance $g --all-conditions --no-baseline \
        --name quality_paul15_both_$g
  done ;;
phasesweep)
  for gs in "free 2" "free 3" "classifier 4" "classifier 6"; do
    set -- $gs
    python benchmarks/quality.py --checkpoint checkpoints/paul15 --guidance $1 --all-conditions --no-baseline \
        --column-scale phase=$2 --name phasesweep_paul15_$1_$2
  done ;;
speed)
  python benchmarks/speed.py --checkpoint checkpoints/paul15 --quality
  python benchmarks/speed.py --checkpoint checkpoints/pbmc68k ;;
trajectory)
  python benchmarks/trajectory.py --checkpoint checkpoints/paul15 --guidance classifier
  python benchmarks/trajectory.py --checkpoint checkpoints/paul15 --guidance free ;;
unseen)
  log "train paul15 without 7MEP x G2M"
  scdiff train --data paul15 --conditions paul15_clusters,phase --threads 2 \
      --exclude paul15_clusters=7MEP,phase=G2M --out runs/paul15_no_mep_g2m
  python benchmarks/unseen.py --checkpoint runs/paul15_no_mep_g2m ;;
unseen-eval)
  python benchmarks/unseen.py --checkpoint runs/paul15_no_mep_g2m ;;
tokens)
  # tokens per latent code for DiT and CRATE (issue 13 item 4): choices on validation cells, needs checkpoints/pbmc68k_*
  python benchmarks/transformer_tokens.py --patches 2 4 8 16 --seeds 0
  python benchmarks/transformer_tokens.py --patches 8 2 --seeds 1 2
  python benchmarks/transformer_tokens.py --rescore 0 1 2 3 4 ;;
transformers)
  for b in dit crate; do
    log "train checkpoints/pbmc68k_$b"
    scdiff train --data pbmc68k --conditions bulk_labels,phase --backbone $b --diffusion-iters 5000 --threads 2 \
        --config '{"autoencoder_from": "checkpoints/pbmc68k"}' --out checkpoints/pbmc68k_$b
  done ;;
backbones)
  python benchmarks/backbones.py --dataset pbmc68k --iters-latent 5000 --iters-gene 2000 \
      --existing mlp-latent=checkpoints/pbmc68k,dit-latent=checkpoints/pbmc68k_dit,crate-latent=checkpoints/pbmc68k_crate
  python benchmarks/backbones.py --dataset paul15 --iters-latent 5000 --iters-gene 1000 \
      --existing mlp-latent=checkpoints/paul15 ;;
*) echo "unknown stage $st"; exit 2 ;;
esac; done
log done
