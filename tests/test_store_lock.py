"""The store's lock and audit, as CI runs them: the code of every kind matches its lock, and the shipped audit
sample (cheap ``quick``-profile runs, one or two per kind) recomputes to the same numbers."""

from hcvae.runs import audit


def test_every_kind_matches_its_lock():
    problems = audit.check_lock()
    assert not problems, "\n".join(problems)


def test_the_audit_sample_recomputes_to_its_stored_numbers():
    report = audit.audit([audit.AUDIT_SAMPLE_DIR], sample=2)  # every entry: at most two per kind
    assert len(report.rows) == len(audit.audit_sample_configs())
    assert report.ok, "\n".join(report.lines())
