#!/bin/bash
# usage: benchmarks/parity_light.sh SRC_DIR OUT_DIR -- short fixed-seed runs of train, distill (all terms; auto), fuse and
# extend (replay), their tensor digests, terms chosen, loss networks and latent space in OUT_DIR/digests.json.
# Run on the old src (git archive COMMIT src | tar -x -C /tmp/old) and the new one, then compare the two files.
set -e
SRC=$1; OUT=$2
[ -e "$OUT" ] && { echo "$OUT exists; give a new OUT_DIR" >&2; exit 2; }
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=$SRC
PY=${PYTHON:-python}
A=$SRC/gantransfer/assets
T=$A/teachers/fashion-mnist-dcgan; C=$A/teachers/fashion-mnist-dcgan-cond
R="--device cpu --no-progress --seed 0"
$PY -m gantransfer.cli train --data ring8 --steps 30 --out $OUT/train $R >/dev/null 2>&1
$PY -m gantransfer.cli distill --teacher $T --width 0.125 --steps 6 --eval-n 0 --terms pixel=1,perceptual=1,adversarial=0.1,feature=1 --bank-size 64 --out $OUT/distill $R >/dev/null 2>&1
$PY -m gantransfer.cli distill --teacher $T --width 0.125 --steps 4 --eval-n 0 --out $OUT/distill_auto $R >/dev/null 2>&1
$PY -m gantransfer.cli fuse --teacher $T --teacher $C --width 0.125 --steps 4 --eval-n 0 --terms pixel=1,perceptual=1,adversarial=0.1 --out $OUT/fuse $R >/dev/null 2>&1
$PY -m gantransfer.cli train --data fashion-mnist --classes 0,1 --conditional --width 0.0625 --resolution 16 --steps 2 --batch-size 16 --out $OUT/base $R >/dev/null 2>&1
$PY -m gantransfer.cli extend --base $OUT/base --data fashion-mnist --classes 5 --terms pixel=1,perceptual=1,feature=1 --eval-n 0 --steps 3 --batch-size 16 --out $OUT/extend $R >/dev/null 2>&1 || echo "extend failed"
$PY - $OUT <<'PYEOF'
import sys, json, hashlib
from pathlib import Path
import torch
from safetensors.torch import load_file
out = Path(sys.argv[1]); res = {}
for p in sorted(out.rglob("*.safetensors")):
    h = hashlib.sha256()
    for k, v in sorted(load_file(str(p)).items()):
        h.update(f"{k}|{v.dtype}|{tuple(v.shape)}".encode()); h.update(v.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    res[str(p.relative_to(out))] = h.hexdigest()
for p in sorted(out.glob("*/run.json")):
    r = json.loads(p.read_text()); r.pop("seconds", None)
    res[str(p.relative_to(out)) + ":terms_chosen"] = json.dumps(r.get("terms_chosen"))
for p in sorted(out.glob("*/generator/config.json")):
    c = json.loads(p.read_text())
    res[str(p.relative_to(out)) + ":loss_networks"] = json.dumps(c.get("loss_networks", c.get("meta", {}).get("loss_networks")))
    res[str(p.relative_to(out)) + ":latent_space"] = json.dumps(c.get("latent_space", c.get("meta", {}).get("latent_space")))
(out / "digests.json").write_text(json.dumps(res, indent=1))
print(len(res), "entries")
PYEOF
