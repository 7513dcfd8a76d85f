"""The store's lock and audit, as CI runs them: the code of every kind matches its lock, and the shipped audit
sample (cheap ``quick``-profile runs, one or two per kind) recomputes to the same numbers."""

from hcvae.runs import audit


def test_every_kind_matches_its_lock():
    problems = audit.check_lock()
    assert not problems, "\n".join(problems)


def test_the_audit_sample_recomputes_to_its_stored_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("HCVAE_RESULTS", str(tmp_path / "results"))  # the default store, which it must not touch
    report = audit.audit([audit.AUDIT_SAMPLE_DIR], sample=2)  # every entry: at most two per kind
    assert len(report.rows) == len(audit.audit_sample_configs())
    assert report.ok, "\n".join(report.lines())
    # what an entry needs (HCT's collapsed reference run) was recomputed in a scratch store, not read or kept
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
