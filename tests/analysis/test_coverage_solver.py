"""The pure solver: hand-computed optima, nearest-first's losses, degenerate inputs, and
properties against an independent max-flow (scipy's push-relabel on integer tonnes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import scipy.sparse.csgraph
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from geo.analysis.coverage import allocate, greedy_nearest_first


def frame(rows: list[tuple[object, object, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["zone", "village", "km"])


def flows(result: object) -> dict[tuple[object, object], float]:
    table = result.flows  # type: ignore[attr-defined]
    return {
        (z, v): round(float(t), 6)
        for z, v, t in zip(table["zone"], table["village"], table["tonnes"], strict=True)
    }


def test_two_zones_three_villages_optimum_beats_nearest_first() -> None:
    # Zones A (10 t) and B (10 t); villages x, y, z need 5, 10 and 5 t.
    # A: x 1 km, y 2 km, z 3 km.   B: y 2.5 km, z 10 km (B cannot reach x).
    supplies = pd.Series({"A": 10.0, "B": 10.0})
    demands = pd.Series({"x": 5.0, "y": 10.0, "z": 5.0})
    pairs = frame(
        [("A", "x", 1.0), ("A", "y", 2.0), ("A", "z", 3.0), ("B", "y", 2.5), ("B", "z", 10.0)]
    )
    # Nearest first: A→x 5 (5 t·km), A→y 5 (10), B→y 5 (12.5), B→z 5 (50): 20 t, 77.5 t·km.
    greedy = greedy_nearest_first(supplies, demands, pairs)
    assert greedy.delivered_t == 20.0
    assert greedy.tonne_km == 77.5
    # Optimum: A→x 5 (5), A→z 5 (15), B→y 10 (25): 20 t, 45 t·km.
    best = allocate(supplies, demands, pairs)
    assert best.delivered_t == pytest.approx(20.0)
    assert best.tonne_km == pytest.approx(45.0)
    assert flows(best) == {("A", "x"): 5.0, ("A", "z"): 5.0, ("B", "y"): 10.0}


def test_nearest_first_costs_more_tonne_km() -> None:
    # A (10 t) and B (10 t); v and w need 10 t each. A: v 1 km, w 2 km; B: v 2 km, w 10 km.
    supplies = pd.Series({"A": 10.0, "B": 10.0})
    demands = pd.Series({"v": 10.0, "w": 10.0})
    pairs = frame([("A", "v", 1.0), ("A", "w", 2.0), ("B", "v", 2.0), ("B", "w", 10.0)])
    # Nearest first: A→v 10 (10 t·km), then B→w 10 (100): 20 t, 110 t·km.
    greedy = greedy_nearest_first(supplies, demands, pairs)
    assert (greedy.delivered_t, greedy.tonne_km) == (20.0, 110.0)
    # Optimum: A→w 10 (20), B→v 10 (20): 20 t, 40 t·km.
    best = allocate(supplies, demands, pairs)
    assert best.delivered_t == pytest.approx(20.0)
    assert best.tonne_km == pytest.approx(40.0)
    assert flows(best) == {("A", "w"): 10.0, ("B", "v"): 10.0}


def test_nearest_first_delivers_fewer_tonnes() -> None:
    # A (10 t): v 1 km, w 2 km. B (10 t): v 1.5 km only. v and w need 10 t each.
    supplies = pd.Series({"A": 10.0, "B": 10.0})
    demands = pd.Series({"v": 10.0, "w": 10.0})
    pairs = frame([("A", "v", 1.0), ("A", "w", 2.0), ("B", "v", 1.5)])
    # Nearest first: A→v 10 (10 t·km); B cannot reach w: 10 t delivered, w without.
    greedy = greedy_nearest_first(supplies, demands, pairs)
    assert (greedy.delivered_t, greedy.tonne_km) == (10.0, 10.0)
    assert greedy.by_village.loc["w", "unmet_t"] == 10.0
    # Optimum: A→w 10 (20), B→v 10 (15): 20 t, 35 t·km. More tonnes come first, even at
    # more tonne-km.
    best = allocate(supplies, demands, pairs)
    assert (round(best.delivered_t, 6), round(best.tonne_km, 6)) == (20.0, 35.0)
    assert best.by_village["covered_share"].tolist() == pytest.approx([1.0, 1.0])
    assert best.by_zone["use_share"].tolist() == pytest.approx([1.0, 1.0])


def test_degenerate_inputs() -> None:
    empty = allocate(pd.Series({"A": 5.0}), pd.Series({"v": 3.0}), frame([]))
    assert empty.delivered_t == 0.0 and empty.pairs == 0 and len(empty.flows) == 0
    assert empty.by_village.loc["v"].tolist() == [3.0, 0.0, 3.0, 0.0]
    assert empty.by_zone.loc["A"].tolist() == [5.0, 0.0, 0.0]

    zero = allocate(pd.Series({"A": 0.0}), pd.Series({"v": 3.0}), frame([("A", "v", 1.0)]))
    assert zero.delivered_t == 0.0 and len(zero.flows) == 0
    assert zero.by_zone.loc["A", "use_share"] == 0.0

    one = allocate(
        pd.Series({"A": 5.0, "B": 5.0}),
        pd.Series({"v": 7.0}),
        frame([("A", "v", 3.0), ("B", "v", 1.0)]),
    )
    assert flows(one) == {("B", "v"): 5.0, ("A", "v"): 2.0}
    assert one.tonne_km == pytest.approx(5 * 1 + 2 * 3)

    nothing_wanted = allocate(pd.Series({"A": 5.0}), pd.Series({"v": 0.0}), frame([("A", "v", 1)]))
    assert nothing_wanted.by_village.loc["v", "covered_share"] == 1.0

    none_at_all = allocate(pd.Series(dtype=float), pd.Series(dtype=float), frame([]))
    assert none_at_all.delivered_t == 0.0

    for bad in (pd.Series({"A": -1.0}), pd.Series({"A": float("nan")})):
        with pytest.raises(ValueError, match="capacity"):
            allocate(bad, pd.Series({"v": 1.0}), frame([]))
    with pytest.raises(ValueError, match="km"):
        allocate(pd.Series({"A": 1.0}), pd.Series({"v": 1.0}), frame([("A", "v", -2.0)]))


def test_the_lp_is_sparse() -> None:
    # 300 zones and 400 villages with 3 pairs each: the matrix holds 2 nonzeros per pair,
    # never zones × villages.
    rng = np.random.default_rng(7)
    zones = [f"z{i}" for i in range(300)]
    villages = [f"v{i}" for i in range(400)]
    rows = [
        (zones[int(rng.integers(300))], v, float(rng.uniform(1, 50)))
        for v in villages
        for _ in range(3)
    ]
    pairs = frame(rows).drop_duplicates(["zone", "village"])
    result = allocate(
        pd.Series(rng.uniform(0, 20, 300), index=zones),
        pd.Series(rng.uniform(0, 20, 400), index=villages),
        pairs,
    )
    assert result.pairs == len(pairs)
    assert result.nonzeros == 2 * len(pairs)
    assert result.rows == 300 + 400


def max_flow(supplies: list[int], demands: list[int], pairs: list[tuple[int, int]]) -> int:
    """Independent max-flow: source → zones → villages → sink, integer capacities."""
    nz, nv = len(supplies), len(demands)
    source, sink = nz + nv, nz + nv + 1
    big = sum(supplies) + 1
    rows = [source] * nz + [z for z, _ in pairs] + [nz + v for v in range(nv)]
    cols = list(range(nz)) + [nz + v for _, v in pairs] + [sink] * nv
    caps = supplies + [big] * len(pairs) + demands
    graph = scipy.sparse.csr_array(
        (np.array(caps, dtype=np.int32), (rows, cols)), shape=(nz + nv + 2, nz + nv + 2)
    )
    graph.sum_duplicates()
    return int(scipy.sparse.csgraph.maximum_flow(graph, source, sink).flow_value)


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[int], list[int], list[tuple[int, int, float]]]:
    nz = draw(st.integers(1, 6))
    nv = draw(st.integers(1, 7))
    supplies = draw(st.lists(st.integers(0, 30), min_size=nz, max_size=nz))
    demands = draw(st.lists(st.integers(0, 30), min_size=nv, max_size=nv))
    links = draw(
        st.lists(
            st.tuples(st.integers(0, nz - 1), st.integers(0, nv - 1), st.floats(0, 100)),
            max_size=nz * nv,
            unique_by=lambda t: (t[0], t[1]),
        )
    )
    return supplies, demands, links


@settings(max_examples=150, deadline=None)
@given(problems())
def test_delivers_the_max_flow_within_every_bound(
    problem: tuple[list[int], list[int], list[tuple[int, int, float]]],
) -> None:
    supplies, demands, links = problem
    result = allocate(
        pd.Series(supplies, dtype=float),
        pd.Series(demands, dtype=float),
        frame([(z, v, km) for z, v, km in links]),
    )
    assert result.delivered_t == pytest.approx(
        max_flow(supplies, demands, [(z, v) for z, v, _ in links]), abs=1e-6
    )
    sent = result.flows.groupby("zone")["tonnes"].sum()
    got = result.flows.groupby("village")["tonnes"].sum()
    assert all(sent.get(z, 0.0) <= supplies[z] + 1e-6 for z in range(len(supplies)))
    assert all(got.get(v, 0.0) <= demands[v] + 1e-6 for v in range(len(demands)))
    assert (result.flows["tonnes"] > 0).all()
    # Never more tonne-km than nearest-first when both deliver the same tonnes.
    greedy = greedy_nearest_first(
        pd.Series(supplies, dtype=float),
        pd.Series(demands, dtype=float),
        frame([(z, v, km) for z, v, km in links]),
    )
    assert greedy.delivered_t <= result.delivered_t + 1e-6
    if greedy.delivered_t >= result.delivered_t - 1e-6:
        assert result.tonne_km <= greedy.tonne_km + 1e-6 * max(1.0, greedy.tonne_km)


def lexicographic_reference(
    supplies: list[int], demands: list[int], links: list[tuple[int, int, float]]
) -> tuple[float, float]:
    """Most tonnes, then least tonne-km, as two plain LPs (the definition, solved slowly)."""
    import scipy.optimize

    nz, n = len(supplies), len(links)
    rows = [z for z, _, _ in links] + [nz + v for _, v, _ in links]
    matrix = scipy.sparse.csr_array(
        (np.ones(2 * n), (rows, list(range(n)) * 2)), shape=(nz + len(demands), n)
    )
    bounds = np.array(supplies + demands, dtype=float)
    first = scipy.optimize.linprog(-np.ones(n), A_ub=matrix, b_ub=bounds, method="highs-ds")
    most = -float(first.fun)
    km = np.array([k for _, _, k in links])
    second = scipy.optimize.linprog(
        km,
        A_ub=scipy.sparse.vstack([matrix, -np.ones((1, n))]),
        b_ub=np.append(bounds, -(most - 1e-9 * max(1.0, most))),
        method="highs-ds",
    )
    return most, float(second.fun)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_one_penalised_lp_equals_the_two_lexicographic_ones(
    problem: tuple[list[int], list[int], list[tuple[int, int, float]]],
) -> None:
    supplies, demands, links = problem
    assume(links)
    result = allocate(
        pd.Series(supplies, dtype=float), pd.Series(demands, dtype=float), frame(list(links))
    )
    most, least = lexicographic_reference(supplies, demands, links)
    assert result.delivered_t == pytest.approx(most, abs=1e-6)
    assert result.tonne_km == pytest.approx(least, rel=1e-6, abs=1e-5)
