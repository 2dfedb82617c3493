"""Where new raw-material zones should go: a maximal-covering location problem on HiGHS.

Pure: arrays in, arrays out, no database. The workflow (``geo.workflows.siting``) builds
the candidate sites and the sparse reach pairs (site, village, km within the haul) in
PostGIS and hands them here.

Two models, both exact (``scipy.optimize.milp``, HiGHS branch and cut, relative gap 0):

- **uncapacitated** (no typical capacity given): binary ``y_s`` (site s opened),
  ``z_v ∈ [0, 1]`` (village v served), ``z_v ≤ Σ_{s reaching v} y_s``, ``Σ y_s ≤ k``,
  maximise ``Σ unmet_v · z_v``. A village counts once however many chosen sites reach it,
  so two sites never both get credit for the same villages.
- **capacitated** (a typical new-zone capacity ``cap`` t/yr given): flows ``x_sv ≥ 0`` on
  the reach pairs, ``Σ_s x_sv ≤ unmet_v``, ``Σ_v x_sv ≤ cap · y_s``, ``Σ y_s ≤ k``,
  maximise ``Σ x_sv``. This is the honest one when a new zone cannot feed every village in
  reach: a 5 000 t site next to 40 000 t of unmet demand serves 5 000 t, not 40 000 t.

``Σ y ≤ k`` rather than ``= k``: a site that adds no demand is not suggested (the result
says how many of the k were worth opening). Ties are broken by a tiny penalty, far below a
kilogram of demand: each opened site pays ``1e-6 ×`` its mean distance to the villages it
reaches (relative to the haul) and, in the capacitated model, each tonne ``1e-7 × km /
haul``, so among equal covers the closer sites win; HiGHS itself is deterministic.

Scores are marginal and add up to the objective: every served village (or tonne) is
credited to exactly one chosen site, the nearest chosen site that reaches it in the
uncapacitated model, the site whose flow carries it in the capacitated one.

`greedy_sites` (best cell, remove its villages, repeat) is the naive reference the tests
and the benchmark compare against; the workflow never uses it to choose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo.kernel.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Tie-break weights (see the module docstring): small against any real tonnage.
_SITE_PENALTY = 1e-6
_FLOW_PENALTY = 1e-7


@dataclass(frozen=True)
class SitingProblem:
    """Candidate sites, villages with unmet demand, and which site reaches which village.

    ``pair_site``/``pair_village``/``pair_km`` are parallel arrays, one entry per site that
    reaches a village (within the haul): the sparse reach matrix.
    """

    n_sites: int
    unmet_t: FloatArray
    pair_site: IntArray
    pair_village: IntArray
    pair_km: FloatArray
    k: int
    haul_km: float
    capacity_t: float | None = None
    # Seconds HiGHS may take (None: until proven optimal); the solution says if it stopped.
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if self.k < 1:
            raise InvalidInput(f"k must be at least 1, got {self.k}")
        if self.capacity_t is not None and not self.capacity_t > 0:
            raise InvalidInput(f"a typical capacity must be above 0 t, got {self.capacity_t}")
        if not self.haul_km > 0:
            raise InvalidInput(f"the haul must be above 0 km, got {self.haul_km}")
        n = len(self.pair_site)
        if len(self.pair_village) != n or len(self.pair_km) != n:
            raise InvalidInput("the reach pairs' arrays differ in length")
        if np.any(self.unmet_t < 0):
            raise InvalidInput("unmet demand cannot be negative")


@dataclass(frozen=True)
class SitingSolution:
    """The chosen sites, best first, and what each serves.

    ``sites``: chosen site indices in rank order (score descending, then index);
    ``score_t``: tonnes each serves (marginal: a tonne is credited to one site only);
    ``served``: per chosen site, (village index, tonnes, km) sorted by village index;
    ``total_t``: tonnes of unmet demand served by all chosen sites together;
    ``model``: "mclp" or "capacitated"; ``variables``/``constraints``/``nonzeros``: the
    MILP's size; ``status``: HiGHS's message; ``gap``: the relative MIP gap left (0 when
    proven optimal).
    """

    sites: list[int]
    score_t: list[float]
    served: list[list[tuple[int, float, float]]]
    total_t: float
    model: str
    variables: int
    constraints: int
    nonzeros: int
    status: str
    gap: float = 0.0


def _options(problem: SitingProblem) -> dict[str, float]:
    options = {"mip_rel_gap": 0.0}
    if problem.time_limit_s is not None:
        options["time_limit"] = problem.time_limit_s
    return options


def _gap(result: object) -> float:
    gap = getattr(result, "mip_gap", None)
    return float(gap) if gap is not None else 0.0


def _mean_km(problem: SitingProblem) -> FloatArray:
    """Each site's mean distance to the villages it reaches, relative to the haul."""
    counts = np.bincount(problem.pair_site, minlength=problem.n_sites).astype(np.float64)
    sums = np.bincount(problem.pair_site, weights=problem.pair_km, minlength=problem.n_sites)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)
    return np.asarray(mean / problem.haul_km, dtype=np.float64)


def _empty(problem: SitingProblem, model: str) -> SitingSolution:
    return SitingSolution([], [], [], 0.0, model, 0, 0, 0, "nothing to choose")


def solve(problem: SitingProblem) -> SitingSolution:
    """Choose up to k sites serving the most unmet demand (exact, HiGHS)."""
    if problem.capacity_t is None:
        return _solve_mclp(problem)
    return _solve_capacitated(problem)


def _solve_mclp(problem: SitingProblem) -> SitingSolution:
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_s, n_v, n_p = problem.n_sites, len(problem.unmet_t), len(problem.pair_site)
    if n_s == 0 or n_p == 0 or not np.any(problem.unmet_t > 0):
        return _empty(problem, "mclp")
    # Variables: y (n_s, binary) then z (n_v, continuous in [0, 1]).
    cost = np.concatenate([_SITE_PENALTY * _mean_km(problem), -problem.unmet_t])
    # z_v - Σ_{s reaching v} y_s ≤ 0, one row per village.
    rows = np.concatenate([problem.pair_village, np.arange(n_v)])
    cols = np.concatenate([problem.pair_site, n_s + np.arange(n_v)])
    vals = np.concatenate([-np.ones(n_p), np.ones(n_v)])
    cover = sparse.csr_array((vals, (rows, cols)), shape=(n_v, n_s + n_v))
    count = sparse.csr_array(
        (np.ones(n_s), (np.zeros(n_s, dtype=np.int64), np.arange(n_s))), shape=(1, n_s + n_v)
    )
    constraints = [
        LinearConstraint(cover, -np.inf, 0.0),
        LinearConstraint(count, 0.0, float(problem.k)),
    ]
    integrality = np.concatenate([np.ones(n_s), np.zeros(n_v)])
    result = milp(
        cost,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(0.0, 1.0),
        options=_options(problem),
    )
    if result.x is None:
        raise RuntimeError(f"HiGHS found no solution: {result.message}")
    chosen = np.flatnonzero(result.x[:n_s] > 0.5)
    served = _credit_nearest(problem, chosen)
    size = (n_s + n_v, n_v + 1, cover.nnz + count.nnz)
    return _solution(problem, served, "mclp", size, str(result.message), _gap(result))


def _credit_nearest(
    problem: SitingProblem, chosen: IntArray
) -> dict[int, list[tuple[int, float, float]]]:
    """Each village with unmet demand reached by a chosen site, credited to the nearest."""
    is_chosen = np.zeros(problem.n_sites, dtype=bool)
    is_chosen[chosen] = True
    mask = is_chosen[problem.pair_site] & (problem.unmet_t[problem.pair_village] > 0)
    site, village, km = problem.pair_site[mask], problem.pair_village[mask], problem.pair_km[mask]
    # Sort by village, then km, then site: the first row of each village is its nearest.
    order = np.lexsort((site, km, village))
    site, village, km = site[order], village[order], km[order]
    first = np.ones(len(village), dtype=bool)
    first[1:] = village[1:] != village[:-1]
    served: dict[int, list[tuple[int, float, float]]] = {int(s): [] for s in chosen}
    for s, v, d in zip(site[first], village[first], km[first], strict=True):
        served[int(s)].append((int(v), float(problem.unmet_t[v]), float(d)))
    return served


def _solve_capacitated(problem: SitingProblem) -> SitingSolution:
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_s, n_v, n_p = problem.n_sites, len(problem.unmet_t), len(problem.pair_site)
    if n_s == 0 or n_p == 0 or not np.any(problem.unmet_t > 0):
        return _empty(problem, "capacitated")
    cap = float(problem.capacity_t or 0.0)
    # Variables: y (n_s, binary) then x (n_p, one flow per reach pair, tonnes).
    cost = np.concatenate(
        [
            _SITE_PENALTY * _mean_km(problem),
            -1.0 + _FLOW_PENALTY * problem.pair_km / problem.haul_km,
        ]
    )
    pair_cols = n_s + np.arange(n_p)
    # Σ_s x_sv ≤ unmet_v
    demand = sparse.csr_array(
        (np.ones(n_p), (problem.pair_village, pair_cols)), shape=(n_v, n_s + n_p)
    )
    # Σ_v x_sv - cap · y_s ≤ 0
    rows = np.concatenate([problem.pair_site, np.arange(n_s)])
    cols = np.concatenate([pair_cols, np.arange(n_s)])
    vals = np.concatenate([np.ones(n_p), -cap * np.ones(n_s)])
    supply = sparse.csr_array((vals, (rows, cols)), shape=(n_s, n_s + n_p))
    count = sparse.csr_array(
        (np.ones(n_s), (np.zeros(n_s, dtype=np.int64), np.arange(n_s))), shape=(1, n_s + n_p)
    )
    constraints = [
        LinearConstraint(demand, -np.inf, problem.unmet_t),
        LinearConstraint(supply, -np.inf, 0.0),
        LinearConstraint(count, 0.0, float(problem.k)),
    ]
    upper = np.concatenate([np.ones(n_s), np.minimum(problem.unmet_t[problem.pair_village], cap)])
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.concatenate([np.ones(n_s), np.zeros(n_p)]),
        bounds=Bounds(np.zeros(n_s + n_p), upper),
        options=_options(problem),
    )
    if result.x is None:
        raise RuntimeError(f"HiGHS found no solution: {result.message}")
    chosen = np.flatnonzero(result.x[:n_s] > 0.5)
    flows = result.x[n_s:]
    served: dict[int, list[tuple[int, float, float]]] = {int(s): [] for s in chosen}
    for p in np.flatnonzero(flows > 1e-6):
        s = int(problem.pair_site[p])
        if s in served:
            served[s].append(
                (int(problem.pair_village[p]), float(flows[p]), float(problem.pair_km[p]))
            )
    size = (n_s + n_p, n_v + n_s + 1, demand.nnz + supply.nnz + count.nnz)
    return _solution(problem, served, "capacitated", size, str(result.message), _gap(result))


def _solution(
    problem: SitingProblem,
    served: dict[int, list[tuple[int, float, float]]],
    model: str,
    size: tuple[int, int, int],
    status: str,
    gap: float = 0.0,
) -> SitingSolution:
    scored = {s: sum(t for _, t, _ in rows) for s, rows in served.items()}
    # A chosen site that serves (next to) nothing only paid the tie-break: not a suggestion.
    useful = [s for s in served if scored[s] > 1e-6]
    ranked = sorted(useful, key=lambda s: (-round(scored[s], 6), s))
    return SitingSolution(
        sites=ranked,
        score_t=[scored[s] for s in ranked],
        served=[sorted(served[s]) for s in ranked],
        total_t=float(sum(scored[s] for s in ranked)),
        model=model,
        variables=size[0],
        constraints=size[1],
        nonzeros=size[2],
        status=status,
        gap=gap,
    )


def greedy_sites(problem: SitingProblem) -> SitingSolution:
    """The naive reference: take the cell serving the most remaining demand, repeat k times.

    With a capacity, a picked site serves its reachable villages nearest first up to the
    capacity. Used by the tests and the benchmark to show what the exact model gains.
    Ties go to the site with the shorter mean distance, then the lower index.
    """
    remaining = problem.unmet_t.astype(np.float64).copy()
    cap = problem.capacity_t
    tie = _mean_km(problem)
    served: dict[int, list[tuple[int, float, float]]] = {}
    taken = np.zeros(problem.n_sites, dtype=bool)
    for _ in range(problem.k):
        if problem.n_sites == 0:
            break
        gain = np.bincount(
            problem.pair_site,
            weights=remaining[problem.pair_village],
            minlength=problem.n_sites,
        )
        if cap is not None:
            gain = np.minimum(gain, cap)
        gain[taken] = -1.0
        best_gain = gain.max()
        if best_gain <= 1e-9:
            break
        tied = np.flatnonzero(gain >= best_gain - 1e-9)
        best = int(tied[np.lexsort((tied, tie[tied]))[0]])
        taken[best] = True
        pairs = np.flatnonzero(problem.pair_site == best)
        pairs = pairs[np.argsort(problem.pair_km[pairs], kind="stable")]
        left = cap if cap is not None else np.inf
        rows: list[tuple[int, float, float]] = []
        for p in pairs:
            v = int(problem.pair_village[p])
            take = min(float(remaining[v]), left)
            if take > 1e-9:
                rows.append((v, take, float(problem.pair_km[p])))
                remaining[v] -= take
                left -= take
        served[best] = rows
    return _solution(problem, served, "greedy", (0, 0, 0), "greedy")
