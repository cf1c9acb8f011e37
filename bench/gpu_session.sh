#!/bin/bash
# One prepared device session (run from the repo root with INVERT_DATA pointing at the images and
# $OUT set): CUDA tests, the trajectory sweep sharded over processes (small nets leave a GPU idle
# between launches, so several processes share it), and per-step speed of each variant with a whole
# 3000-step 512² paper fit. Everything lands in $OUT: test.log, traj.json.gz, speed-*.json, log.txt.
# Knobs: SHARDS, SWEEP_SECONDS, CONFIGS, TASKS, SPLIT, STEPS, SPEED=0 skips the speed part, TESTS=0 the tests,
# GRAPH=0 the CUDA-graph step (bench/graph_step.py).
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
SHARDS=${SHARDS:-12}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/log.txt" 2>&1
if [ "${TESTS:-1}" = 1 ]; then
  python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py > "$OUT/test.log" 2>&1
  tail -2 "$OUT/test.log"
fi
for i in $(seq 0 $((SHARDS - 1))); do
  timeout "${SWEEP_SECONDS:-300}" python3 -m bench trajectories --split "${SPLIT:-all}" --device cuda --threads 1 \
    --shard "$i/$SHARDS" --steps "${STEPS:-3000}" --tasks ${TASKS:-denoise sr} --configs ${CONFIGS:-paper fast} \
    --out "/tmp/traj-$i.json.gz" > "/tmp/traj-$i.log" 2>&1 &
done
wait
python3 - <<'PY'
import glob, gzip, json, os
jobs, meta = [], {}
for f in sorted(glob.glob("/tmp/traj-*.json.gz")):
    d = json.load(gzip.open(f, "rt")); jobs += d.pop("jobs"); meta = d
json.dump({**meta, "jobs": jobs}, gzip.open(os.environ["OUT"] + "/traj.json.gz", "wt"))
print(f"sweep: {len(jobs)} jobs")
PY
cat /tmp/traj-*.log >> "$OUT/log.txt"
if [ "${SPEED:-1}" = 1 ]; then
  python3 -m bench speed --device cuda --sizes 128 256 512 --steps 20 --only dip:paper-denoise dip:fast \
    deep_decoder:default --variants fp32 channels_last amp amp+channels_last --whole-fit 3000 2>&1 | tee -a "$OUT/log.txt"
  cp bench/results/speed-cuda-*.json "$OUT/"
fi
if [ "${GRAPH:-1}" = 1 ]; then
  # the paper step captured in a CUDA graph against the eager step (prepared in a CPU-only session)
  timeout 240 python3 -m bench graph_step --device cuda --size 512 --steps 3000 2>&1 | tee -a "$OUT/log.txt"
  echo "graph_step exit status ${PIPESTATUS[0]}" | tee -a "$OUT/log.txt"
  cp bench/results/graph_step-cuda-*.json "$OUT/" || echo "graph_step wrote no JSON" | tee -a "$OUT/log.txt"
fi
