"""The siting model on cases solved by hand (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from geo.analysis.siting import SitingProblem, greedy_sites, solve
from geo.kernel.errors import InvalidInput

# Four villages on a line, A B C D, short of 5, 6, 6 and 5 t. Three candidate cells:
# LEFT reaches A and B (11 t), MID reaches B and C (12 t), RIGHT reaches C and D (11 t).
A, B, C, D = 0, 1, 2, 3
LEFT, MID, RIGHT = 0, 1, 2
PAIRS = [  # (site, village, km)
    (LEFT, A, 10.0),
    (LEFT, B, 20.0),
    (MID, B, 15.0),
    (MID, C, 15.0),
    (RIGHT, C, 20.0),
    (RIGHT, D, 10.0),
]


def line_problem(k: int = 2, capacity_t: float | None = None) -> SitingProblem:
    site, village, km = (np.array(column) for column in zip(*PAIRS, strict=True))
    return SitingProblem(
        n_sites=3,
        unmet_t=np.array([5.0, 6.0, 6.0, 5.0]),
        pair_site=site.astype(np.int64),
        pair_village=village.astype(np.int64),
        pair_km=km.astype(np.float64),
        k=k,
        haul_km=50.0,
        capacity_t=capacity_t,
    )


def test_greedy_takes_two_sites_that_share_a_village_and_the_optimum_does_not() -> None:
    # By hand. Greedy: MID first (B + C = 12 t), then LEFT or RIGHT adds only A or D (5 t,
    # its other village is MID's already): 17 t, LEFT and MID both reach B.
    # Optimum: LEFT + RIGHT = A + B + C + D = 22 t, no village reached twice.
    greedy = greedy_sites(line_problem())
    best = solve(line_problem())

    assert greedy.total_t == pytest.approx(17.0)
    assert greedy.sites[0] == MID
    assert best.total_t == pytest.approx(22.0)
    assert sorted(best.sites) == [LEFT, RIGHT]
    assert best.model == "mclp"
    # Scores are marginal: each village credited once, and they add up to the total.
    assert best.score_t == pytest.approx([11.0, 11.0])
    credited = [v for rows in best.served for v, _, _ in rows]
    assert sorted(credited) == [A, B, C, D]
    assert sum(best.score_t) == pytest.approx(best.total_t)


def test_ties_are_broken_the_same_way_every_time_by_distance() -> None:
    # k = 1: LEFT and RIGHT tie at 11 t but MID serves 12 t; with MID gone, LEFT and RIGHT
    # tie exactly (same distances): the lower index wins, every time.
    best = solve(line_problem(k=1))
    assert best.sites == [MID] and best.total_t == pytest.approx(12.0)
    problem = line_problem(k=1)
    no_mid = problem.pair_site != MID
    trimmed = SitingProblem(
        3,
        problem.unmet_t,
        problem.pair_site[no_mid],
        problem.pair_village[no_mid],
        problem.pair_km[no_mid],
        1,
        50.0,
    )
    answers = {tuple(solve(trimmed).sites) for _ in range(3)}
    assert len(answers) == 1


def test_capacitated_sites_serve_no_more_than_their_capacity() -> None:
    # By hand, capacity 8 t: any two sites serve at most 16 t and LEFT + RIGHT reach 22 t,
    # so 16 t; MID + a side site also reach 16 t (MID 8 of B + C, LEFT A 5 + B 3), but the
    # tie-break prefers the shorter hauls.
    best = solve(line_problem(capacity_t=8.0))
    assert best.model == "capacitated"
    assert best.total_t == pytest.approx(16.0)
    assert all(score <= 8.0 + 1e-6 for score in best.score_t)
    served: dict[int, float] = {}
    for rows in best.served:
        for village, tonnes, _ in rows:
            served[village] = served.get(village, 0.0) + tonnes
    unmet = line_problem().unmet_t
    assert all(served[v] <= unmet[v] + 1e-6 for v in served)


def test_fewer_useful_sites_than_k_is_an_answer_not_an_error() -> None:
    best = solve(line_problem(k=10))
    # Two sites already serve everything: a third would add nothing and is not suggested.
    assert best.total_t == pytest.approx(22.0)
    assert len(best.sites) == 2


def test_no_pairs_no_sites() -> None:
    empty = np.array([], dtype=np.int64)
    problem = SitingProblem(0, np.array([3.0]), empty, empty, np.array([]), 3, 50.0)
    assert solve(problem).sites == [] and solve(problem).total_t == 0.0


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_is_refused(k: int) -> None:
    with pytest.raises(InvalidInput):
        line_problem(k=k)
