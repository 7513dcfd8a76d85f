import pytest

from hcvae.book import claims, plots


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


def test_every_claim_has_a_target_in_its_chapter_where_the_scoreboard_links():
    from pathlib import Path

    from hcvae.book.plots.scoreboard import claim_anchor

    root = Path(__file__).resolve().parent.parent / "notebooks"
    missing = [(c.id, c.chapter) for c in claims.all_claims()
               if f"\n({claim_anchor(c.id)})=\n" not in (root / f"{c.chapter}.md").read_text()]
    assert not missing, f"no (claim-<id>)= target before the section that measures: {missing}"


def _row(id_, verdict, by_reading, measured="m"):
    return {"id": id_, "paper": "v1", "where": "Table 1", "quantity": "KL", "claimed": "2.6", "chapter": "04-x",
            "measured": measured, "headline": "", "verdict": verdict, "by_reading": by_reading, "margins": ()}


def test_the_scoreboard_has_a_cell_per_data_set_and_per_reading():
    rows = [_row("a", "depends on reading", {"synthetic, min_k, x̂ sample": "not reproduced",
                                             "digits, min_k, x̂ sample": "reproduced",
                                             "synthetic, own_centre, x̂ sample": "reproduced"}),
            _row("b", "reproduced", {})]
    board = claims.scoreboard(rows)
    assert board["datasets"] == ["synthetic", "digits"]
    assert board["columns"] == ["min_k, x̂ sample", "own_centre, x̂ sample"]
    a = board["rows"][0]
    assert a["by_dataset"] == {"synthetic": "depends on reading", "digits": "reproduced"}
    # across data sets a reading fails where it fails on one (a paper's claim holds on each of its columns)
    assert a["cells"] == {"min_k, x̂ sample": "not reproduced", "own_centre, x̂ sample": "reproduced"}
    assert board["rows"][1]["cells"] == {} and board["rows"][1]["by_dataset"] == {}
    html = plots.scoreboard(board)
    assert html.count("href='../notebooks/04-x.html#claim-a'") == 2 + 2 + 2  # label, verdict, 2 data sets, 2 readings


def test_the_compact_ledger_shows_the_default_reading_without_the_verdict_note():
    long = "; ".join(f"min_k, x̂ {x}: KL 0.1 (not comparable (the setting differs: samples 5000 (the paper: 50000)))"
                     for x in ("sample", "mean", "other", "more", "still", "again"))
    row = _row("a", "not comparable", {"min_k, x̂ sample": "not comparable"}, measured=long)
    header, (cells,) = claims.compact_rows([row])
    assert cells[2] == "min_k, x̂ sample: KL 0.1; …" and cells[3] == "≠ not comparable"
    assert claims.differs(row) == "samples 5000 (the paper: 50000)"
    assert ("**not comparable**: min_k, x̂ sample: KL 0.1, on a setting other than the paper's (samples 5000 (the "
            "paper: 50000))") in claims.findings([{**row, "id": "v4-table1-spherical"}])


def test_the_intro_reads_each_verdict_as_a_predicate():
    row = _row("v4-table1-spherical", "depends on reading", {"synthetic, x̂ sample": "reproduced",
                                                             "synthetic, x̂ mean": "not reproduced"},
               measured="synthetic, x̂ sample: KL 1.8 vs 2.67 (reproduced)")
    text = claims.findings([row])
    assert ("v4's Spherical VAE against its Table 1 is **reproduced under some readings of the text and not under "
            "others**: synthetic, x̂ sample: KL 1.8 vs 2.67") in text
    assert "is **depends" not in text and set(claims.VERDICT_PREDICATES) == set(claims.VERDICTS)


def test_the_intros_counts_agree_in_number_with_their_verb():
    one = claims.findings([_row("a", "not comparable", {}), _row("b", "reproduced", {})])
    assert "1 reproduces, 0 do not, 0 depend on how" in one and "and 1 was measured on another setting" in one
    many = claims.findings([_row(i, "not comparable", {}) for i in "ab"] + [_row(i, "not reproduced", {}) for i in "cd"])
    assert "0 reproduce, 2 do not," in many and "and 2 were measured" in many


def test_a_claim_across_data_sets_reads_only_the_comparable_ones():
    from hcvae.chapters.ledger import across_datasets

    assert across_datasets({"synthetic": "not comparable", "mnist": "reproduced"}) == "reproduced"
    assert across_datasets({"mnist": "reproduced", "cifar10": "not reproduced"}) == "not reproduced"
    assert across_datasets({"synthetic": "not comparable"}) == "not comparable"
    rows = [_row("a", "reproduced", {"synthetic": "not comparable", "mnist": "reproduced"}),
            _row("b", "not reproduced", {"mnist, min_k, x̂ sample": "not reproduced"})]
    header, counts = claims.dataset_counts(rows)
    assert header[:2] == ["data set", "claims measured there"]
    by = {r[0]: dict(zip(header, r)) for r in counts}
    assert by["mnist"]["claims measured there"] == 2 and by["mnist"]["reproduced"] == 1
    assert by["mnist"]["not reproduced"] == 1 and by["synthetic"]["not comparable"] == 1
