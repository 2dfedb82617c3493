"""Supply coverage: zone capacity allocated to village demand at the least tonne-kilometres.

The transportation problem on a sparse list of candidate pairs (zone, village, km), the
pairs within the haul: variables are the tonnes ``x_p`` carried along each pair,

- ``Σ_{p from z} x_p ≤ capacity_z`` for every zone,
- ``Σ_{p to v} x_p ≤ demand_v`` for every village,
- ``x_p ≥ 0``,

delivering the most tonnes first and, among the allocations that do, the one with the
least ``Σ x_p · km_p``. Solved by HiGHS (``scipy.optimize.linprog``) on a ``scipy.sparse``
matrix: one column per pair, so the problem grows with the pairs within the haul, never
with zones × villages.

One LP with an unmet-demand penalty rather than two lexicographic solves: each tonne
delivered earns ``M`` and costs its km, so the LP minimises ``Σ x_p · (km_p − M)``. Any
allocation delivering less than the most has an augmenting path (zone → village, back to
another zone, on to another village…) with at most ``min(zones, villages)`` forward pairs,
so pushing a tonne along it costs at most ``min(zones, villages) · longest km`` and earns
``M``: with ``M`` above that bound the optimum delivers the most tonnes, and since ``M ·
tonnes`` is then the same for every such allocation, it has the least tonne-km among them.
The bound keeps ``M`` small (about 2.7 × 10⁶ for all of Vietnam at a 500 km haul), well
inside double precision. The lexicographic pair of solves was exact too but, with the
second solve's dense "deliver at least" row, some 35 times slower on 60 000 pairs.
HiGHS's interior point method (with its crossover to a vertex) solves these sparse
transportation LPs an order of magnitude faster than its dual simplex.

``greedy_nearest_first`` is the naive reference (the nearest pairs first) that the tests
and the benchmark compare against; the workflows never use it.

Examples
--------
>>> import pandas as pd
>>> supplies = pd.Series({1: 10.0})
>>> demands = pd.Series({"a": 4.0, "b": 8.0})
>>> pairs = pd.DataFrame({"zone": [1, 1], "village": ["a", "b"], "km": [5.0, 10.0]})
>>> result = allocate(supplies, demands, pairs)
>>> result.delivered_t, result.tonne_km
(10.0, 80.0)
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Flows below this many tonnes are solver noise, not deliveries.
FLOW_EPSILON_T = 1e-6


@dataclass(frozen=True)
class Allocation:
    """A solved allocation.

    Attributes
    ----------
    flows
        One row per pair carrying tonnes: ``zone``, ``village``, ``km``, ``tonnes``
        (pairs carrying nothing are left out), ordered by zone then km.
    by_village
        Indexed by village: ``demand_t``, ``supplied_t``, ``unmet_t``, ``covered_share``
        (supplied / demand; 1.0 when the demand is 0).
    by_zone
        Indexed by zone: ``capacity_t``, ``used_t``, ``use_share`` (used / capacity; 0.0
        when the capacity is 0).
    delivered_t, tonne_km
        Tonnes delivered in all, and their Σ tonnes × km.
    pairs
        The number of candidate pairs (the LP's columns).
    rows, nonzeros
        The LP's constraint rows and the nonzeros of its sparse matrix.
    solve_s
        Seconds spent in the solver.
    """

    flows: pd.DataFrame
    by_village: pd.DataFrame
    by_zone: pd.DataFrame
    delivered_t: float
    tonne_km: float
    pairs: int
    rows: int
    nonzeros: int
    solve_s: float


def _checked(
    supplies: pd.Series, demands: pd.Series, pairs: pd.DataFrame
) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    supplies = supplies.astype(float)
    demands = demands.astype(float)
    for name, series in (("capacity", supplies), ("demand", demands)):
        values = series.to_numpy()
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"every {name} must be a finite number ≥ 0")
        if not series.index.is_unique:
            raise ValueError(f"{name} ids must be unique")
    pairs = pairs.loc[:, ["zone", "village", "km"]].copy()
    pairs["km"] = pairs["km"].astype(float)
    if not np.all(np.isfinite(pairs["km"].to_numpy())) or np.any(pairs["km"].to_numpy() < 0):
        raise ValueError("every pair's km must be a finite number ≥ 0")
    # Pairs naming a zone or village not in the inputs cannot carry anything.
    known = pairs["zone"].isin(supplies.index) & pairs["village"].isin(demands.index)
    pairs = pairs[known].drop_duplicates(["zone", "village"]).reset_index(drop=True)
    return supplies, demands, pairs


def _result(
    supplies: pd.Series,
    demands: pd.Series,
    pairs: pd.DataFrame,
    tonnes: np.ndarray,
    *,
    rows: int,
    nonzeros: int,
    solve_s: float,
) -> Allocation:
    import pandas as pd

    tonnes = np.where(tonnes > FLOW_EPSILON_T, tonnes, 0.0)
    flows = pairs.assign(tonnes=tonnes)
    supplied = flows.groupby("village", sort=False)["tonnes"].sum()
    used = flows.groupby("zone", sort=False)["tonnes"].sum()
    by_village = pd.DataFrame({"demand_t": demands})
    by_village["supplied_t"] = np.minimum(
        supplied.reindex(by_village.index, fill_value=0.0).to_numpy(), by_village["demand_t"]
    )
    by_village["unmet_t"] = (by_village["demand_t"] - by_village["supplied_t"]).clip(lower=0.0)
    demand = by_village["demand_t"].to_numpy()
    by_village["covered_share"] = np.divide(
        by_village["supplied_t"].to_numpy(),
        demand,
        out=np.ones(len(by_village)),
        where=demand > 0,
    )
    by_zone = pd.DataFrame({"capacity_t": supplies})
    by_zone["used_t"] = np.minimum(
        used.reindex(by_zone.index, fill_value=0.0).to_numpy(), by_zone["capacity_t"]
    )
    capacity = by_zone["capacity_t"].to_numpy()
    by_zone["use_share"] = np.divide(
        by_zone["used_t"].to_numpy(),
        capacity,
        out=np.zeros(len(by_zone)),
        where=capacity > 0,
    )
    flows = flows[flows["tonnes"] > 0].sort_values(["zone", "km"], kind="stable")
    return Allocation(
        flows=flows.reset_index(drop=True),
        by_village=by_village,
        by_zone=by_zone,
        delivered_t=float(flows["tonnes"].sum()),
        tonne_km=float((flows["tonnes"] * flows["km"]).sum()),
        pairs=len(pairs),
        rows=rows,
        nonzeros=nonzeros,
        solve_s=solve_s,
    )


def allocate(supplies: pd.Series, demands: pd.Series, pairs: pd.DataFrame) -> Allocation:
    """The most tonnes at the least tonne-km (see the module docstring).

    Parameters
    ----------
    supplies
        Capacity in tonnes, indexed by zone id (any hashable).
    demands
        Demand in tonnes, indexed by village id.
    pairs
        Columns ``zone``, ``village``, ``km``: the pairs a zone may supply (within the haul).

    Raises
    ------
    ValueError
        On a negative or non-finite figure or distance, or duplicate ids.
    RuntimeError
        If HiGHS does not find the optimum (it always exists: x = 0 is feasible).
    """
    import pandas as pd
    import scipy.sparse

    supplies, demands, pairs = _checked(supplies, demands, pairs)
    n = len(pairs)
    if n == 0:
        return _result(supplies, demands, pairs, np.zeros(0), rows=0, nonzeros=0, solve_s=0.0)
    zone_row = pd.Index(supplies.index).get_indexer(pairs["zone"])
    village_row = pd.Index(demands.index).get_indexer(pairs["village"]) + len(supplies)
    columns = np.arange(n)
    matrix = scipy.sparse.csr_array(
        (
            np.ones(2 * n),
            (np.concatenate([zone_row, village_row]), np.concatenate([columns, columns])),
        ),
        shape=(len(supplies) + len(demands), n),
    )
    bounds_ub = np.concatenate([supplies.to_numpy(), demands.to_numpy()])
    km = pairs["km"].to_numpy()
    # M above the cost of the longest augmenting path (see the module docstring).
    reach = min(int(pairs["zone"].nunique()), int(pairs["village"].nunique()))
    penalty = reach * float(km.max()) + 1.0
    started = time.perf_counter()
    solved = scipy.optimize.linprog(
        km - penalty, A_ub=matrix, b_ub=bounds_ub, bounds=(0, None), method="highs-ipm"
    )
    if solved.status != 0:
        raise RuntimeError(f"HiGHS found no optimum: {solved.message}")
    solve_s = time.perf_counter() - started
    return _result(
        supplies,
        demands,
        pairs,
        np.asarray(solved.x, dtype=float),
        rows=matrix.shape[0],
        nonzeros=int(matrix.nnz),
        solve_s=solve_s,
    )


def greedy_nearest_first(
    supplies: pd.Series, demands: pd.Series, pairs: pd.DataFrame
) -> Allocation:
    """The naive reference: the pairs from the nearest up, each taking all it can.

    Used only by the tests and the benchmark to show what the optimum saves; it can both
    deliver fewer tonnes and cost more tonne-km than :func:`allocate`.

    Examples
    --------
    >>> import pandas as pd
    >>> supplies = pd.Series({"A": 10.0, "B": 10.0})
    >>> demands = pd.Series({"v": 10.0, "w": 10.0})
    >>> pairs = pd.DataFrame(
    ...     {"zone": ["A", "A", "B"], "village": ["v", "w", "v"], "km": [1.0, 2.0, 1.5]}
    ... )
    >>> greedy_nearest_first(supplies, demands, pairs).delivered_t
    10.0
    >>> allocate(supplies, demands, pairs).delivered_t
    20.0
    """
    supplies, demands, pairs = _checked(supplies, demands, pairs)
    left_zone: dict[Hashable, float] = supplies.to_dict()
    left_village: dict[Hashable, float] = demands.to_dict()
    order = np.argsort(pairs["km"].to_numpy(), kind="stable")
    tonnes = np.zeros(len(pairs))
    zones = pairs["zone"].to_numpy()
    villages = pairs["village"].to_numpy()
    for i in order:
        amount = min(left_zone[zones[i]], left_village[villages[i]])
        if amount > 0:
            tonnes[i] = amount
            left_zone[zones[i]] -= amount
            left_village[villages[i]] -= amount
    return _result(supplies, demands, pairs, tonnes, rows=0, nonzeros=0, solve_s=0.0)
