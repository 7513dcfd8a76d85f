"""A content-addressed result store: one folder per (config, code) hash.

``results/<key>/result.json`` (and optionally ``weights.pt``, a plain state dict
read back with ``weights_only=True``). The key hashes the config and the code
version of its kind: the package version and the source of the module that
defines the config class and of every hcvae module it imports, directly or not
(:func:`code_version`). Editing code that computes a result can never serve a
stale one; editing a method's module invalidates that method's runs and no
others, and modules no stored result depends on (plots, profiles) change freely.
Files are written to a temporary name and renamed into place, weights first and
the JSON last: an entry exists only once complete. An entry that does not parse
or does not match its key is reported and recomputed, never half-read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch

from . import __version__

# Modules that only choose, read or present results: editing them must not invalidate the store.
_NOT_HASHED = {"plots", "widgets", "notebook", "phase", "profiles"}


def _result_modules(start: str = "experiments") -> list[Path]:
    """The hcvae modules ``start`` imports, directly or not (relative imports, at any indentation)."""
    package = Path(__file__).parent
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        path = package / f"{name}.py"
        if name in seen or name in _NOT_HASHED or not path.exists():
            continue
        seen.add(name)
        text = path.read_text()
        todo += re.findall(r"^\s*from \.(\w+) import", text, re.M)
        for names in re.findall(r"^\s*from \. import ([\w, ]+)", text, re.M):
            todo += [n.strip() for n in names.split(",")]
    return [package / f"{name}.py" for name in sorted(seen)]


@functools.lru_cache(maxsize=None)
def code_version(module: str = "experiments") -> str:
    """The package version plus a hash of the source of ``module`` and every hcvae module it imports."""
    h = hashlib.sha256(__version__.encode())
    for path in _result_modules(module):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


CODE_VERSION = code_version("experiments")


def config_code_version(config) -> str:
    """The code version a config's results depend on: that of the hcvae module defining its class, plus the
    modules loaded by name for its data set (e.g. an image loader) or architecture (e.g. the conv VAE)."""
    from .data import FILE_DATASETS
    from .models import LAZY_ARCHITECTURES

    module = type(config).__module__
    if not (is_dataclass(config) and module.startswith("hcvae.")):
        return CODE_VERSION
    version = code_version(module.split(".", 1)[1])
    extra = {FILE_DATASETS.get(getattr(config, "dataset", None)), LAZY_ARCHITECTURES.get(getattr(config, "architecture", None))}
    for name in sorted(extra - {None}):
        version += "+" + code_version(name).split("+", 1)[1]
    return version


def default_root() -> Path:
    """``$HCVAE_RESULTS`` if set, else ``results/`` beside the package (the repository root)."""
    env = os.environ.get("HCVAE_RESULTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "results"


def config_dict(config) -> dict:
    d = asdict(config) if is_dataclass(config) else dict(config)
    return {"kind": type(config).__name__, **d}


def config_key(config) -> str:
    payload = json.dumps({"config": config_dict(config), "code": config_code_version(config)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultStore:
    """Load and save experiment results by config."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()

    def folder(self, config) -> Path:
        return self.root / config_key(config)

    def load(self, config) -> dict | None:
        """The stored result of ``config``, or None if absent or unreadable (then it will be recomputed)."""
        path = self.folder(config) / "result.json"
        if not path.exists():
            return None
        try:
            result = json.loads(path.read_text())
            if result.get("key") != config_key(config) or result.get("config") != config_dict(config):
                raise ValueError("key or config does not match the entry's folder")
            if result.get("has_weights"):
                self.load_weights(config)
        except Exception as err:  # corrupt, truncated or foreign entry: recompute rather than trust it
            warnings.warn(f"result store entry {path.parent} is unreadable ({err}); recomputing it", stacklevel=2)
            return None
        return result

    def save(self, config, result: dict, state_dict: dict | None = None) -> dict:
        folder = self.folder(config)
        result = {**result, "key": config_key(config), "code_version": config_code_version(config),
                  "config": config_dict(config), "has_weights": state_dict is not None}
        if state_dict is not None:
            _atomic_write(folder / "weights.pt", lambda f: torch.save(state_dict, f))
        text = json.dumps(result, indent=1, allow_nan=True).encode()
        _atomic_write(folder / "result.json", lambda f: f.write(text))
        return result

    def load_weights(self, config) -> dict:
        """The stored state dict of ``config``'s model (read with ``weights_only=True``)."""
        return torch.load(self.folder(config) / "weights.pt", weights_only=True)
