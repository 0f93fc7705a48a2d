"""Which inputs matter: each term and attribute left out, with KPI changes worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import account, csm, make, weights

from cli.app import main
from optimizer import Scenario, evaluate
from scenarios.influence import influence, influence_variants


def pulled() -> Scenario:
    """One high-risk retail account (100K, p 0.5) with C2 today: C1 retains better (0.95 vs
    0.80) but only C2 covers retail. Expertise (60%) outweighs churn (40%): it stays with C2."""
    return make(
        [csm("C1", retention_rate=0.95), csm("C2", retention_rate=0.80, industries=["retail"])],
        [account("A1", 100_000, churn_risk="high", industry="retail", current_csm="C2")],
        objectives=weights(churn_risk=0.4, expertise=0.6),
    )


def test_the_variants_leave_out_weighed_terms_and_attributes_that_vary() -> None:
    names = [name for name, _, _ in influence_variants(pulled())]
    # One account: no attribute varies, so only the two weighed terms are left out.
    assert names == ["term.churn_risk", "term.expertise"]
    two = pulled().model_dump(mode="json")
    two["accounts"].append({"id": "A2", "arr": 10, "industry": "media", "workload": 5})
    names = [name for name, _, _ in influence_variants(Scenario.from_dict(two))]
    assert names == [
        "term.churn_risk",
        "term.expertise",
        "attribute.industry",
        "attribute.churn_risk",
        "attribute.workload",
    ]


def test_leaving_expertise_out_moves_the_account_to_the_better_retainer() -> None:
    result = influence(pulled(), workers=1)
    assert result.base.assignment() == {"A1": "C2"}
    rows = {row.input: row for row in result.rows}
    expertise = rows["term.expertise"]
    assert expertise.plan.assignment() == {"A1": "C1"}
    # Expected ARR at risk: 100K x 0.5 x (1 - r) / (1 - 0.875): 80K with C2, 20K with C1.
    assert expertise.kpis["arr_at_risk"] == pytest.approx(-60_000)
    assert expertise.kpis["expertise_match"] == pytest.approx(-1.0)
    assert expertise.kpis["moves"] == 1
    # Scored by the base: expertise 1 x 0.6 + tie-break 0.001 x 1, against 0.4: +0.201, proven.
    assert expertise.effect is not None
    assert expertise.effect.value == pytest.approx(0.201)
    assert not expertise.within_gap
    # Without churn, expertise alone keeps A1 where it is: no change, within the gap.
    churn = rows["term.churn_risk"]
    assert churn.plan.assignment() == {"A1": "C2"}
    assert churn.kpis["arr_at_risk"] == 0 and churn.within_gap
    # Every change is the evaluator's KPI of that plan on the base scenario minus the base's.
    base_kpis = evaluate(pulled(), result.base.assignment()).kpis
    mine = evaluate(pulled(), expertise.plan.assignment()).kpis
    assert expertise.kpis["arr_spread"] == pytest.approx(
        mine["arr_spread"] - base_kpis["arr_spread"]
    )


def test_the_cli_prints_the_rows_and_names_those_within_the_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pulled.json"
    path.write_text(pulled().model_dump_json(), encoding="utf-8")
    assert main(["influence", str(path), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "term.expertise" in out and "-$60.0K" in out and "-100.0 pts" in out
    assert "within the gap: term.churn_risk" in out
    assert main(["influence", str(path), "--workers", "1", "--json"]) == 0
    data = capsys.readouterr().out
    assert '"input": "term.expertise"' in data and '"within_gap": false' in data
    # The report takes it as a table.
    (tmp_path / "influence.json").write_text(data, encoding="utf-8")
    assert main(["solve", str(path), "--out", str(tmp_path / "plan.json"), "--quiet"]) == 0
    html = tmp_path / "report.html"
    args = ["report", str(tmp_path / "plan.json"), "--influence", str(tmp_path / "influence.json")]
    assert main([*args, "--out", str(html)]) == 0
    text = html.read_text(encoding="utf-8")
    assert 'id="influence"' in text and "-$60.0K" in text and "-100.0 pts" in text
