"""Re-keying a result store filled before versioned keys: ``python -m hcvae.store migrate``.

Such a store holds folders named by a bare hash (no ``-v<VERSION>``); each holds its config, from which the
entry's key is computed again (nothing recomputes). The store itself never migrates while it looks a result up:
it notes once per process that legacy entries are there (:meth:`hcvae.runs.store.ResultStore.lookup`).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from hcvae.runs import kinds  # noqa: F401 (registers every kind a legacy entry may name)
from hcvae.runs import store as store_mod
from hcvae.runs.store import is_legacy, needs_migration  # noqa: F401 (what the store checks)

LEGACY_VERSION = 1  # what every kind computed before versioned keys: entries of kinds now past it are ignored
LEGACY_KINDS = {"VAEConfig": "vae", "HCTConfig": "hct", "SphericalConfig": "spherical", "BaselineConfig": "baseline",
                "DiffusionChapterConfig": "diffusion"}


def migrate(root: Path, prune: bool = False) -> dict:
    """Re-key every legacy entry under ``root`` from the config it holds (no recomputation).

    Legacy keys hashed the code too, so one config may have several legacy entries made by different code: the
    most recent is kept, the others are left in place (``prune=True`` deletes them). A diffusion entry's samples
    move from its weights file into ``arrays.npz``.
    """
    import torch

    root = Path(root)
    legacy = sorted((p for p in root.iterdir() if is_legacy(p)), key=lambda p: (p / "result.json").stat().st_mtime,
                    reverse=True) if root.exists() else []
    counts = {"migrated": 0, "stale": 0, "unreadable": 0}
    for folder in legacy:
        try:
            old = json.loads((folder / "result.json").read_text())
            cfg = dict(old["config"])
            cfg["kind"] = LEGACY_KINDS[cfg["kind"]]
            config = store_mod.config_from_dict(cfg)
        except (OSError, ValueError, KeyError, TypeError):
            counts["unreadable"] += 1
            continue
        new = root / store_mod.config_key(config, LEGACY_VERSION)
        if (new / "result.json").exists():
            counts["stale"] += 1
            if prune:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        state, arrays = None, None
        if old.get("has_weights") and (folder / "weights.pt").exists():
            state = torch.load(folder / "weights.pt", weights_only=True)
            if isinstance(state, dict) and "samples" in state and "denoisers" in state:
                arrays = {name: t.numpy() for name, t in state["samples"].items()}
                state = {"denoisers": state["denoisers"]}
        result = {k: v for k, v in old.items() if k not in ("key", "code_version", "config", "has_weights")}
        prov = {"migrated_from": folder.name, "code_version": old.get("code_version"),
                "wall_time_s": old.get("wall_time_s"), "created": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime((folder / "result.json").stat().st_mtime))}
        store_mod.ResultStore(root, reference=None).save(config, result, state_dict=state, arrays=arrays,
                                                          provenance_=prov, version=LEGACY_VERSION)
        shutil.rmtree(folder, ignore_errors=True)
        counts["migrated"] += 1
    return counts
