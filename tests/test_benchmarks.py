"""benchmarks/gpu_check.py runs from the checkout in a minimal environment and reports what it promises (its
structure and the CPU-vs-CPU agreement; no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_small_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1", "HCVAE_PROGRESS": "0"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--small",
                           "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["small"] is True and report["environment"]["device"] == "cpu"
    assert {"vanilla VAE, synthetic", "HCT, synthetic", "Spherical VAE, synthetic"} <= set(report["kinds"])
    for name, kind in report["kinds"].items():
        assert set(kind["runs"]) == {"device", "cpu"}, name
        for run in kind["runs"].values():
            assert run["on"] == "cpu" and {"seconds_per_epoch", "wall_s", "metrics"} <= set(run)
            assert {"neg_elbo", "kl", "mse"} <= set(run["metrics"])
        assert kind["config"]["kind"] in ("vae", "hct", "spherical")
        agreement = kind["agreement"]
        assert agreement["rule"] == "cross-machine"
        assert agreement["agree"] and agreement["n_mismatches"] == 0, (name, agreement["mismatches"])
    stack = report["stacking"]
    assert stack["models"] == 8 and {"one_by_one_model_epochs_per_s", "stacked_model_epochs_per_s",
                                     "stack_on"} <= set(stack)
