from tests.gas import build_gas, passing


def test_smoke(world):
    gas = build_gas(world)
    r = gas.restaurants
    ok = gas.inspect(r[0], passing())
    assert ok.outcome == "pass"
    bad = gas.inspect(r[1], passing(hose_type="rubber", leak_alarm="fail"))
    assert bad.outcome == "rectify"
    from workflow.inspections import inspections
    out = inspections.outcome_of(bad)
    print(out, out["order"].number, out["order"].deadline_on)
    assert len(out["problem_ids"]) == 2
