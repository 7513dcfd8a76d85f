import pytest

from hcvae.book import claims


def test_every_claim_has_a_rule_a_chapter_and_a_measurement_function():
    every = claims.all_claims()
    ids = [c.id for c in every]
    assert len(ids) == len(set(ids))
    assert {"theorem-4.4", "tss-identity", "table1-pre", "table1-baselines", "diffusion-p1"} <= set(ids)
    assert {c.chapter for c in every} == {ch.page for ch in claims.CHAPTERS.values()}  # every chapter contributes
    for c in every:
        assert c.paper in ("v1", "v4") and c.where and c.quantity and c.claimed and c.rule, c.id
        assert callable(c.measure), c.id


def _claim(measure):
    return claims.Claim("x", "v1", "§0", "q", "1", "-", "rule", "01-phase-transition", measure)


def test_ledger_refuses_a_claim_without_measurement_or_verdict():
    with pytest.raises(ValueError, match="has no measurement"):
        claims.ledger("quick", [_claim(lambda profile: None)])
    with pytest.raises(ValueError, match="has no measurement"):
        claims.ledger("quick", [_claim(lambda profile: claims.Measurement("", "reproduced"))])
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        claims.ledger("quick", [_claim(lambda profile: claims.Measurement("KL 1", "maybe"))])
    rows = claims.ledger("quick", [_claim(lambda profile: claims.Measurement("KL 1", "reproduced"))])
    assert rows[0]["verdict"] == "reproduced" and claims.verdict_counts(rows)["reproduced"] == 1


@pytest.mark.parametrize("verdicts, expected", [
    ({"min_k": "reproduced", "own_centre": "reproduced"}, "reproduced"),
    ({"min_k": "not reproduced", "own_centre": "reproduced"}, "depends on reading"),
    ({"min_k": "not reproduced", "own_centre": "not testable here"}, "not reproduced"),
    ({"min_k": "reproduced", "own_centre": "not testable here"}, "not testable here"),
])
def test_per_reading_verdicts_combine(verdicts, expected):
    assert claims.combine(verdicts) == expected


def test_a_duplicate_id_is_refused(monkeypatch):
    from hcvae.chapters import region_report

    original = region_report.chapter._claims
    monkeypatch.setattr(region_report.chapter, "_claims", lambda: [*original(), original()[0]])
    with pytest.raises(ValueError, match="appear twice in the ledger"):
        claims.all_claims()


def test_the_ledger_has_no_import_circle():
    """Chapter modules never import the walker (tests/test_imports.py checks every cycle of the package)."""
    import ast
    from pathlib import Path

    import hcvae

    pkg = Path(hcvae.__file__).parent
    for path in sorted((pkg / "chapters").glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"hcvae.book", "hcvae.book.claims"}, path.name
