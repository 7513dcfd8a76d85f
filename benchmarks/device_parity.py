"""The device code path on the CPU: a run left on the default device and the same run with ``on="cpu"`` give the
same numbers (printed, as a yes or no and the largest difference; tests/test_device.py asserts it)."""

from __future__ import annotations

import tempfile

from hcvae.runs import experiments, store as store_mod
from hcvae.runs.audit import compare
from hcvae.runs.experiments import VAEConfig
from hcvae.runs import runner


def main() -> None:
    config = VAEConfig(dataset="digits", epochs=20, batch_size=128)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        default = runner.run(config, store=store_mod.ResultStore(a, reference=None), progress=False)
        explicit = runner.run(config, store=store_mod.ResultStore(b, reference=None), progress=False, on="cpu")
    cmp = compare(default, explicit, rtol=0.0, atol=0.0)
    verdict = "identical" if not cmp["mismatches"] else f"{len(cmp['mismatches'])} numbers differ"
    print(f"device parity on the CPU (digits, 20 epochs): {verdict}, largest relative difference {cmp['max_rel']:.2g}")


if __name__ == "__main__":
    main()
