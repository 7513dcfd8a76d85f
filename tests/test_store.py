"""The result store: versioned keys, provenance, the reference layer, migration, the audit and the run log."""

import json
import os
from dataclasses import dataclass

import pytest

from hcvae.runs import audit, closure, experiments, store as store_mod
from hcvae.runs.experiments import VAEConfig
from hcvae.runs.hct import HCTConfig
from hcvae.runs.spherical_runs import SphericalConfig
from hcvae.runs import runner

TINY = dict(dataset="digits", architecture="linear", epochs=2, batch_size=256, n_samples=600)


# ---- the key --------------------------------------------------------------------------------------------------

def test_key_is_kind_config_and_version_only(monkeypatch):
    a, b = VAEConfig(**TINY, sigma2_ratio=0.5), VAEConfig(**TINY, sigma2_ratio=0.75)
    key = store_mod.config_key(a)
    assert key.startswith("vae-") and key.endswith("-v1") and key != store_mod.config_key(b)
    # the code is not in the key: a changed closure leaves it alone...
    monkeypatch.setattr(closure, "module_hash", lambda name: "changed")
    assert store_mod.config_key(a) == key
    # ...while the kind's VERSION moves it
    monkeypatch.setattr(VAEConfig, "VERSION", 2)
    assert store_mod.config_key(a) == key.replace("-v1", "-v2")


def test_integers_in_float_fields_key_as_floats():
    assert store_mod.config_key(VAEConfig(sigma2_ratio=2)) == store_mod.config_key(VAEConfig(sigma2_ratio=2.0))
    assert store_mod.config_key(HCTConfig(beta=1)) == store_mod.config_key(HCTConfig(beta=1.0))


@dataclass(frozen=True)
class _Before:
    KIND = "vae"
    VERSION = 1
    width: int = 4


@dataclass(frozen=True)
class _After:
    KIND = "vae"
    VERSION = 1
    ADDED_FIELDS = {"gain": 1.0}
    width: int = 4
    gain: float = 1.0


def test_an_added_field_at_its_neutral_value_rekeys_nothing():
    assert store_mod.config_key(_After()) == store_mod.config_key(_Before())
    assert store_mod.config_key(_After(gain=2.0)) != store_mod.config_key(_Before())
    # the options added for the x_hat reading and v1 Appendix B's architecture, at their neutral values
    assert "hidden" not in store_mod.canonical_config(VAEConfig())
    assert store_mod.config_key(VAEConfig(hidden=[256, 128])) == store_mod.config_key(VAEConfig())
    assert "xhat" not in store_mod.canonical_config(HCTConfig(xhat="mean"))
    assert "xhat" in store_mod.canonical_config(HCTConfig(xhat="sample"))
    assert "method" not in store_mod.canonical_config(SphericalConfig())
    assert "xhat" not in store_mod.canonical_config(SphericalConfig(xhat="sample"))


def test_a_stored_config_round_trips():
    for cfg in (VAEConfig(**TINY), HCTConfig(xhat="mean", hidden=(1024, 512, 256), latent_dim=48),
                SphericalConfig(method="cluster_pull")):
        assert store_mod.config_from_dict(store_mod.config_dict(cfg)) == cfg


def test_a_config_without_kind_and_version_is_refused(store):
    @dataclass(frozen=True)
    class Plain:
        x: int = 1

        def compute(self, store=None, progress=None):
            return {}, None

    with pytest.raises(TypeError, match="KIND .* VERSION"):
        runner.run(Plain(), store=store)


# ---- entries and provenance -----------------------------------------------------------------------------------

def test_entry_holds_its_provenance(store):
    res = runner.run(VAEConfig(**TINY), store=store)
    prov = res["provenance"]
    for name in ("hcvae", "commit", "libraries", "cpu_count", "threads", "device", "wall_time_s", "closure"):
        assert name in prov, name
    assert set(prov["libraries"]) >= {"torch", "numpy", "scikit-learn", "dask"}
    assert prov["threads"] == 1 and prov["device"] == "cpu" and prov["wall_time_s"] > 0
    assert prov["closure"] == closure.closure("hcvae.runs.experiments")["hash"]
    assert res["key"] == store_mod.config_key(VAEConfig(**TINY)) and res["version"] == 1


def test_unwritable_store_fails_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(VAEConfig, "compute", lambda *a, **k: pytest.fail("trained before checking the store"))
    with pytest.raises(store_mod.StoreError, match="not writable.*HCVAE_RESULTS"):
        runner.run(VAEConfig(**TINY), store=store_mod.ResultStore(blocker / "results"))


def test_closure_hash_ignores_docstrings_comments_and_layout(tmp_path, monkeypatch):
    pkg = tmp_path / "hcvae"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text('"""Doc."""\nfrom . import b  # why\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    (pkg / "b.py").write_text("import importlib\nNAMES = {'c': 'c'}\ndef g(n):\n    return importlib.import_module(n)\n")
    (pkg / "c.py").write_text("VALUE = 1\n")
    (pkg / "sub").mkdir()
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text("def h():\n    from ..a import f\n    return f\n")
    monkeypatch.setattr(closure, "PACKAGE_DIR", pkg)
    # relative (`.`, `..`) imports, imports inside functions, and a module loaded by a literal name
    assert closure.closure_modules("hcvae.sub.d") == ["hcvae", "hcvae.a", "hcvae.b", "hcvae.c", "hcvae.sub.d"]
    before = closure.closure("hcvae.sub.d")["hash"]
    (pkg / "a.py").write_text("from . import b\ndef f(x):\n    '''Other doc.'''\n    return (x +\n            1)  # c\n")
    os.utime(pkg / "a.py", ns=(1, 1))
    assert closure.closure("hcvae.sub.d")["hash"] == before
    (pkg / "c.py").write_text("VALUE = 2\n")
    os.utime(pkg / "c.py", ns=(2, 2))
    assert closure.closure("hcvae.sub.d")["hash"] != before


# ---- the reference layer -----------------------------------------------------------------------------------------

@pytest.fixture
def reference(tmp_path):
    """A reference folder holding one computed entry, and the config and result."""
    cfg = VAEConfig(**TINY, seed=5)
    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    result = runner.run(cfg, store=work)
    ref = tmp_path / "reference"
    audit.write_reference_entry(ref, store_mod.config_key(cfg), result)
    return ref, cfg, result


def test_lookups_try_the_local_store_then_the_reference(reference, tmp_path, monkeypatch):
    ref, cfg, result = reference
    s = store_mod.ResultStore(tmp_path / "local", reference=ref)
    monkeypatch.setattr(VAEConfig, "compute", lambda *a, **k: pytest.fail("computed a run the reference holds"))
    got, source = s.lookup(cfg)
    assert source == "reference" and got["metrics"] == result["metrics"]
    assert runner.run(cfg, store=s)["metrics"] == result["metrics"]
    assert not (tmp_path / "local" / store_mod.config_key(cfg)).exists()  # the reference is read, never copied


def test_the_quick_profiles_layer_below_the_reference_is_read_too(reference, tmp_path, monkeypatch):
    ref, cfg, result = reference
    key = store_mod.config_key(cfg)
    (ref / store_mod.QUICK_SUBDIR).mkdir()
    (ref / f"{key}.json.gz").rename(ref / store_mod.QUICK_SUBDIR / f"{key}.json.gz")
    monkeypatch.setattr(VAEConfig, "compute", lambda *a, **k: pytest.fail("computed a run the quick layer holds"))
    got, source = store_mod.ResultStore(tmp_path / "local", reference=ref).lookup(cfg)
    assert source == "reference" and got["metrics"] == result["metrics"]


def test_a_corrupt_reference_file_is_named_and_never_served(reference, tmp_path):
    ref, cfg, result = reference
    path = ref / f"{store_mod.config_key(cfg)}.json.gz"
    path.write_bytes(path.read_bytes()[:40])
    s = store_mod.ResultStore(tmp_path / "local", reference=ref)
    with pytest.warns(UserWarning, match=f"reference file {path}.*corrupt or truncated"):
        assert s.load(cfg) is None
    with pytest.raises(store_mod.StoreError, match=str(path)):
        list(store_mod.reference_entries(ref))


def test_an_entry_of_another_version_is_ignored_with_a_note(store, monkeypatch, capsys):
    cfg = VAEConfig(**TINY)
    runner.run(cfg, store=store)
    monkeypatch.setattr(VAEConfig, "VERSION", 2)
    assert store.load(cfg) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "under VERSION 1 only; ignored" in out and "VERSION is now 2" in out


def test_results_need_weights_recompute_locally(reference, tmp_path):
    ref, cfg, result = reference
    s = store_mod.ResultStore(tmp_path / "local", reference=ref)
    again = runner.run(cfg, store=s, need_weights=True)
    assert s.has_weights(cfg) and again["metrics"] == result["metrics"]


def test_run_log_counts_where_runs_came_from(reference, tmp_path, monkeypatch):
    ref, cfg, _ = reference
    log = tmp_path / "runs.log"
    monkeypatch.setenv("HCVAE_RUN_LOG", str(log))
    s = store_mod.ResultStore(tmp_path / "local", reference=ref)
    runner.run(cfg, store=s)
    runner.run(VAEConfig(**TINY, seed=6), store=s)
    runner.run(VAEConfig(**TINY, seed=6), store=s)
    assert store_mod.summary(log) == {"reference": 1, "local": 1, "computed": 1}
    assert audit.main(["summary", str(log)]) == 0


# ---- migration ------------------------------------------------------------------------------------------------

def _legacy_entry(root, cfg, result, name="0123456789abcdef0123", with_weights=None):
    folder = root / name
    folder.mkdir(parents=True)
    legacy = {k: v for k, v in result.items() if k not in ("key", "version", "config", "provenance", "has_arrays")}
    legacy.update(key=name, code_version="0.1.0+abc", has_weights=with_weights is not None,
                  config={"kind": type(cfg).__name__, **{k: v for k, v in store_mod.config_dict(cfg).items()
                                                          if k not in ("kind", "hidden", "xhat")}})
    (folder / "result.json").write_text(json.dumps(legacy))
    if with_weights is not None:
        import torch

        torch.save(with_weights, folder / "weights.pt")
    return folder


def capsys_note(store) -> str:
    """What the store says about its legacy entries: their folder names, and the command that re-keys them."""
    import contextlib
    import io

    store_mod._NOTED.discard(store.root)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        store.note_legacy_once()
    text = buf.getvalue()
    assert "python -m hcvae.store migrate" in text
    return text + " ".join(p.name for p in store.root.iterdir() if store_mod.is_legacy(p))


def test_a_store_of_the_old_keys_is_rekeyed_and_nothing_recomputes(tmp_path, monkeypatch):
    cfg = VAEConfig(**TINY, seed=2)
    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    result = runner.run(cfg, store=work)
    old = _legacy_entry(tmp_path / "old", cfg, result, with_weights=work.load_weights(cfg))
    hct_cfg = HCTConfig(dataset="digits", n_samples=300, r0=2, n_components=3, epochs_per_round=1,
                        max_refine_epochs=1, final_epochs=1, batch_size=100, latent_dim=2)
    _legacy_entry(tmp_path / "old", hct_cfg, {"metrics": {"kl": 0.1}}, name="fedcba9876543210fedc")
    s = store_mod.ResultStore(tmp_path / "old", reference=None)
    assert s.load(cfg) is None  # the store never migrates as it looks up: the command does
    assert "0123456789abcdef0123" in capsys_note(s)
    from hcvae.runs.migrate import migrate

    assert migrate(tmp_path / "old") == {"migrated": 2, "stale": 0, "unreadable": 0}
    monkeypatch.setattr(VAEConfig, "compute", lambda *a, **k: pytest.fail("recomputed a migrated entry"))
    got = runner.run(cfg, store=s)
    assert got["metrics"] == result["metrics"] and got["provenance"]["migrated_from"] == old.name
    assert not old.exists() and s.load_weights(cfg).keys() == work.load_weights(cfg).keys()
    # HCT entries of the old keys were made under VERSION 1 (mean decode): filed there, not served as VERSION 2
    assert (tmp_path / "old" / store_mod.config_key(HCTConfig(**{**hct_cfg.__dict__, "xhat": "mean"}), 1)).exists()
    assert s.load(HCTConfig(**{**hct_cfg.__dict__, "xhat": "mean"})) is None


# ---- the audit and the lock ------------------------------------------------------------------------------------

def test_audit_passes_on_a_faithful_entry_and_names_a_moved_number(tmp_path):
    cfg = VAEConfig(**TINY, seed=1)
    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    runner.run(cfg, store=work)
    report = audit.audit([work.root], kinds=["vae"], sample=1)
    # computed here, on this machine's kernels: the exact rule, every number identical
    assert report.ok and len(report.rows) == 1 and report.rows[0]["rule"] == "exact"
    assert report.rows[0]["max_rel"] == 0.0
    path = work.folder(cfg) / "result.json"
    entry = json.loads(path.read_text())
    entry["metrics"]["kl"] *= 1.01
    path.write_text(json.dumps(entry))
    report = audit.audit([work.root], kinds=["vae"], sample=1)
    assert not report.ok
    assert any("metrics.kl" in line for line in report.lines()) and store_mod.config_key(cfg) in report.lines()[0]
    assert audit.main(["audit", "--root", str(work.root), "--kind", "vae", "--sample", "1"]) == 1


def test_audit_compare_reads_every_number():
    a = {"metrics": {"kl": 1.0, "units": 3}, "history": [{"loss": 2.0}], "wall_time_s": 5.0, "name": "x"}
    for rule in audit.RULES:
        assert audit.compare(a, {**a, "wall_time_s": 9.0}, rule)["mismatches"] == []
        assert [m[0] for m in audit.compare(a, {**a, "history": [{"loss": 2.1}]}, rule)["mismatches"]] == \
            ["history[0].loss"]
        assert [m[0] for m in audit.compare(a, {**a, "metrics": {"kl": 1.0}}, rule)["mismatches"]] == ["metrics.units"]
    with pytest.raises(ValueError, match="unknown rule 'loose'; allowed values: auto, exact, cross-machine"):
        audit.compare(a, a, "loose")


def test_lock_refuses_a_refactor_whose_audit_fails(tmp_path, monkeypatch):
    lock = tmp_path / "lock.json"
    current = audit.current_lock()
    stale = {k: {**v, "closure": "0" * 16} if k == "vae" else v for k, v in current.items()}
    lock.write_text(json.dumps(stale))
    assert [p for p in audit.check_lock(lock) if "kind 'vae'" in p and "bump VERSION" in p]
    monkeypatch.setattr(audit, "audit", lambda *a, **k: audit.AuditReport(
        [{"kind": "vae", "key": "vae-x-v1", "rule": "exact", "max_rel": 0.5, "mismatches": [("metrics.kl", 1.0, 1.5)], "seconds": 0}]))
    with pytest.raises(RuntimeError, match="(?s)not a refactor.*metrics.kl"):
        audit.write_lock(["vae"], path=lock)
    assert json.loads(lock.read_text())["vae"]["closure"] == "0" * 16  # nothing written
    monkeypatch.setattr(audit, "audit", lambda *a, **k: audit.AuditReport(
        [{"kind": "vae", "key": "vae-x-v1", "rule": "exact", "max_rel": 0.0, "mismatches": [], "seconds": 0}]))
    audit.write_lock(["vae"], path=lock)
    assert audit.check_lock(lock) == []


def test_the_audit_sample_covers_every_kind():
    kinds = {r["config"]["kind"] for _, r in store_mod.reference_entries(audit.AUDIT_SAMPLE_DIR)}
    from hcvae.runs.kinds import KINDS

    assert kinds == set(KINDS)
    for kind in KINDS:
        assert store_mod.kind_class(kind).KIND == kind
