"""The best visiting order of a route's stops, and its timetable.

Pure arithmetic on travel matrices (numpy, OR-Tools): no database. The workflow
(``geo.workflows.route_design``) computes the matrices on the road network and saves
the result.

The problem
-----------
``cost`` is the n×n matrix to minimise (seconds for a "time" route, metres for a
"distance" one; asymmetric allowed, ``np.inf`` where one stop cannot reach another).
The order starts at ``start``; ``end=None`` leaves the end free (an open path),
``end == start`` makes a round trip, another index a fixed end. The stops that are
neither the start nor the end are the *free* stops.

The methods
-----------
- Without opening hours and overnight stops: Held–Karp dynamic programming over bitmasks
  of the free stops (numpy, one popcount layer at a time) when there are at most
  ``exact_up_to`` of them, proven optimal (``method="exact"``); beyond, OR-Tools routing
  (``PATH_CHEAPEST_ARC`` then ``GUIDED_LOCAL_SEARCH`` for ``time_limit_s``;
  ``method="or-tools"``, ``optimal=False``). Guided local search uses its whole time
  budget: it has no proof to stop at. Held–Karp takes about 10 ms for 11 free stops,
  50 ms for 13 and 0.8 s for 16 (2^k·k² steps, measured on the shared build machine).
- With any opening hours or overnight flag: Held–Karp's subsets with a Pareto set of
  partial routes in each (label setting, proven optimal, ``method="exact"``) when there are
  at most ``min(exact_up_to, EXACT_WINDOWS_UP_TO)`` free stops, else OR-Tools' vehicle
  routing with time windows. The objective is lexicographic: first the fewest stops whose
  window is missed, then the least ``cost``. Waiting is allowed and costs nothing: a
  route is judged by the cost it drives, not by the length of its day. In OR-Tools a
  stop with a window may be left out at a penalty larger than any route (so the solver
  never fails); each such stop is put back where it misses the fewest windows and costs
  the least, and a second solve with those windows lifted lets the other stops make room
  for it. This is a heuristic: it never beats the exact answer, finds it on the small
  problems the tests try when every window can be kept, and may cost more when a window
  must be missed.
- The order given (start, the free stops in index order, then the end) is always a
  candidate, so ``saving = given_cost - cost >= 0``, except when the given order misses a
  window that the chosen order keeps: keeping windows comes first.

Integer costs for OR-Tools: every cost is multiplied by ``10**6 / (largest cost)`` (after
``inf`` is replaced, below) and rounded to the nearest integer, so the largest arc keeps
six significant digits and a route of a few hundred stops stays far inside int64; times
are whole seconds. The reported ``cost`` is always recomputed in floats from the matrix.
An unreachable pair (``inf``) becomes a finite cost ``(n + 1) × (largest finite cost)``,
more than any path of finite legs, so every method uses an unreachable leg only when no
order avoids it; the result lists such legs in ``infinite_legs`` and its ``cost`` is then
``inf``. The timetable counts such a leg as 0 minutes and names the problem.

Opening hours
-------------
A stop with ``opens_min``/``closes_min`` (minutes after midnight) is *kept* when its
visit **starts** no later than ``closes_min``: a vehicle arriving before ``opens_min``
waits for the opening, then dwells ``dwell_min`` (the dwell may run past the close: the
visitors are inside). Arriving after ``closes_min`` misses the window: the stop stays in
the order, the timetable notes the problem in words ("arrives 17:40, after closing at
17:00"), the visit starts on arrival and the day goes on. Such stops are listed in
``unreachable``; a stop is never dropped.

The start is visited like any stop: the day begins there at ``start_min`` (waiting for
its opening if it opens later), its dwell is spent, then the route leaves. The return to
the start at the end of a round trip is an arrival only: no window, no second dwell.

Several days
------------
An overnight stop ends its day: the group sleeps there after its visit, and the next
day leaves it at ``start_min``. This is the rule a tour operator works with: the places
to sleep are booked, so the overnight stops keep the sequence they are given in and
mark the ends of the days (day 1 ends at the first overnight stop, day 2 at the
second, …), and the solver chooses on which day each other stop is visited and in which
order. Each day is one vehicle of the vehicle-routing problem: it leaves the previous
night's stop at ``start_min`` (day 1: the start) and ends at that day's overnight stop
(the last day: the route's end, or anywhere on an open path). Opening hours hold on
every day. An overnight flag on the start or on the fixed end has no effect.

Examples
--------
>>> import numpy as np
>>> cost = np.array([[0, 2, 9, 1], [2, 0, 1, 8], [9, 1, 0, 3], [1, 8, 3, 0]], float)
>>> result = best_order(cost, start=0)
>>> result.order, result.cost, result.given_cost, result.saving, result.method
([0, 3, 2, 1], 5.0, 6.0, 1.0, 'exact')
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geo.kernel.errors import InvalidInput

if TYPE_CHECKING:
    pass

# Free stops up to which, with opening hours, the exact search runs: measured on random
# windows on the shared build machine, 10 free stops take 0.02-0.6 s (narrow staggered
# windows are the slowest), 11 up to 1.9 s.
EXACT_WINDOWS_UP_TO = 10
# OR-Tools arcs are integers: the largest finite cost becomes this many units.
COST_SCALE_UNITS = 10**6
MINUTES_PER_DAY = 1440.0


@dataclass(frozen=True)
class StopSpec:
    """One stop as the solver sees it.

    ``opens_min``/``closes_min`` are minutes after midnight (``None``: no bound). The
    visit must *start* by ``closes_min``: arriving earlier than ``opens_min`` means
    waiting for the opening; the dwell may run past the close. ``overnight``: the day
    ends after this stop's visit, and the next day leaves it at the route's start time.
    ``fixed``: the stop keeps its position in the given order (honoured by the exact
    methods and by OR-Tools on single-day routes).
    """

    dwell_min: float = 0.0
    opens_min: float | None = None
    closes_min: float | None = None
    overnight: bool = False
    fixed: bool = False


@dataclass(frozen=True)
class Visit:
    """One stop in the timetable; times are minutes after midnight of ``day``."""

    stop: int
    day: int
    arrive_min: float
    depart_min: float
    wait_min: float
    drive_min: float
    problem: str | None


@dataclass(frozen=True)
class OrderResult:
    """The chosen order, its cost against the given order's, and its timetable."""

    order: list[int]
    cost: float
    given_cost: float
    saving: float
    method: str
    optimal: bool
    timetable: list[Visit]
    unreachable: list[int]
    # Legs of ``order`` whose cost is infinite (no connection): (from stop, to stop).
    infinite_legs: list[tuple[int, int]] = field(default_factory=list)


def clock(minutes: float) -> str:
    """Minutes after midnight as HH:MM, with the day it falls on when past midnight.

    >>> clock(1060), clock(1500)
    ('17:40', '01:00 (next day)')
    """
    whole = int(round(minutes))
    days, rest = divmod(whole, int(MINUTES_PER_DAY))
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    if days == 1:
        return f"{text} (next day)"
    if days > 1:
        return f"{text} (day +{days})"
    return text


def order_cost(order: Sequence[int], cost: np.ndarray) -> float:
    """The cost of visiting ``order`` (the sum of its legs; ``inf`` if one is missing).

    >>> order_cost([0, 2, 1], np.array([[0, 5, 1], [5, 0, 2], [1, 2, 0]], float))
    3.0
    """
    return float(sum(float(cost[a, b]) for a, b in itertools.pairwise(order)))


def timetable(
    order: Sequence[int],
    drive_min: np.ndarray,
    stops: Sequence[StopSpec],
    *,
    start_min: float = 480.0,
) -> list[Visit]:
    """The timetable of ``order``: leave at ``start_min``, drive, wait, dwell, go on.

    A leg with no driving time (``inf``/NaN: the stops are not connected) counts as
    0 minutes and the stop it reaches gets a problem saying so.

    >>> drive = np.array([[0, 30], [30, 0]], float)
    >>> [(v.arrive_min, v.wait_min, v.depart_min) for v in timetable(
    ...     [0, 1], drive, [StopSpec(dwell_min=60), StopSpec(opens_min=600)])]
    [(480.0, 0.0, 540.0), (570.0, 30.0, 600.0)]
    """
    visits: list[Visit] = []
    day = 1
    clock_min = start_min
    previous: int | None = None
    for position, stop in enumerate(order):
        # The return to the start of a round trip is an arrival, not a second visit.
        home = 0 < position == len(order) - 1 and stop == order[0]
        spec = StopSpec() if home else stops[stop]
        problems: list[str] = []
        drive = 0.0
        if previous is not None:
            drive = float(drive_min[previous, stop])
            if not math.isfinite(drive):
                problems.append("no known way from the previous stop")
                drive = 0.0
            if stops[previous].overnight and position - 1 > 0:
                day += 1
                clock_min = start_min
        arrive = clock_min + drive
        begin = arrive
        if spec.opens_min is not None and arrive < spec.opens_min:
            begin = spec.opens_min
        if spec.closes_min is not None and arrive > spec.closes_min:
            problems.append(f"arrives {clock(arrive)}, after closing at {clock(spec.closes_min)}")
        depart = begin + spec.dwell_min
        visits.append(
            Visit(
                stop=stop,
                day=day,
                arrive_min=arrive,
                depart_min=depart,
                wait_min=begin - arrive,
                drive_min=drive,
                problem="; ".join(problems) or None,
            )
        )
        clock_min = depart
        previous = stop
    return visits


def best_order(
    cost: np.ndarray,
    *,
    start: int = 0,
    end: int | None = None,
    drive_min: np.ndarray | None = None,
    stops: Sequence[StopSpec] | None = None,
    start_min: float = 480.0,
    time_limit_s: float = 5.0,
    exact_up_to: int = 11,
) -> OrderResult:
    """The visiting order with the least ``cost`` that keeps the most opening hours.

    See the module's docstring for the rules. ``drive_min`` (n×n minutes) drives the
    timetable; it defaults to ``cost / 60`` (``cost`` in seconds).
    """
    matrix = np.asarray(cost, dtype=float)
    n = matrix.shape[0]
    if matrix.shape != (n, n):
        raise InvalidInput(f"the cost matrix must be square, not {matrix.shape}")
    if not 0 <= start < n or (end is not None and not 0 <= end < n):
        raise InvalidInput(f"start {start} or end {end} is not one of the {n} stops")
    drive = matrix / 60.0 if drive_min is None else np.asarray(drive_min, dtype=float)
    specs = list(stops) if stops is not None else [StopSpec() for _ in range(n)]
    if len(specs) != n or drive.shape != (n, n):
        raise InvalidInput("cost, drive_min and stops must describe the same stops")

    free = [i for i in range(n) if i != start and i != end]
    tail = [] if end is None else [end]
    given = [start, *free, *tail]
    given_cost = order_cost(given, matrix)
    fixed = {i: position for position, i in enumerate(given) if specs[i].fixed and i in free}
    windows = any(s.opens_min is not None or s.closes_min is not None for s in specs) or any(
        specs[i].overnight for i in free
    )
    penalised = _penalised(matrix)

    if len(free) <= 1:
        order, method, optimal = given, "given", True
    elif windows and len(free) <= min(exact_up_to, EXACT_WINDOWS_UP_TO):
        # Seeds bounding the search: the given order, and the best order without windows
        # when it keeps the nights' sequence.
        seeds = [given]
        nights = [i for i in free if specs[i].overnight]
        unwindowed = _held_karp(start, end, free, penalised, fixed)
        if [i for i in unwindowed if i in nights] == nights:
            seeds.append(unwindowed)
        order = _exact_windows(given, free, penalised, drive, specs, start_min, fixed, seeds)
        method, optimal = "exact", True
    elif windows:
        # A stop left out for its window is put back at its cheapest place; a second solve
        # with those windows lifted lets the rest of the order make room for it.
        first = _or_tools(
            given,
            free,
            penalised,
            drive,
            specs,
            start_min,
            time_limit_s * 2 / 3,
            fixed,
            windows=True,
        )
        candidates = [first, given]
        late = frozenset(
            v.stop
            for v in timetable(first, drive, specs, start_min=start_min)
            if v.problem is not None and v.stop in free and not specs[v.stop].overnight
        )
        if late:
            candidates.append(
                _or_tools(
                    given,
                    free,
                    penalised,
                    drive,
                    specs,
                    start_min,
                    time_limit_s / 3,
                    fixed,
                    windows=True,
                    relaxed=late,
                )
            )
        order = min(
            candidates,
            key=lambda o: (_missed(o, drive, specs, start_min), order_cost(o, penalised)),
        )
        method, optimal = "or-tools", False
    elif len(free) <= exact_up_to:
        order = _held_karp(start, end, free, penalised, fixed)
        method, optimal = "exact", True
    else:
        order = _or_tools(
            given, free, penalised, drive, specs, start_min, time_limit_s, fixed, windows=False
        )
        order = min((order, given), key=lambda o: order_cost(o, penalised))
        method, optimal = "or-tools", False

    visits = timetable(order, drive, specs, start_min=start_min)
    chosen_cost = order_cost(order, matrix)
    saving = given_cost - chosen_cost
    if math.isnan(saving):  # both infinite: nothing can be said to be saved
        saving = 0.0
    return OrderResult(
        order=order,
        cost=chosen_cost,
        given_cost=given_cost,
        saving=saving,
        method=method,
        optimal=optimal,
        timetable=visits,
        unreachable=[v.stop for v in visits if v.problem is not None],
        infinite_legs=[
            (a, b) for a, b in itertools.pairwise(order) if not np.isfinite(matrix[a, b])
        ],
    )


def _penalised(matrix: np.ndarray) -> np.ndarray:
    """``inf`` replaced by a cost larger than any path of finite legs."""
    n = matrix.shape[0]
    finite = np.isfinite(matrix)
    largest = float(np.abs(matrix[finite]).max()) if finite.any() else 1.0
    out = np.where(finite, matrix, (n + 1) * max(largest, 1.0))
    return np.asarray(out, dtype=float)


def _missed(
    order: Sequence[int], drive: np.ndarray, specs: Sequence[StopSpec], start_min: float
) -> int:
    return sum(v.problem is not None for v in timetable(order, drive, specs, start_min=start_min))


def _held_karp(
    start: int, end: int | None, free: list[int], cost: np.ndarray, fixed: dict[int, int]
) -> list[int]:
    """Held–Karp over the free stops, one popcount layer of masks at a time.

    ``best[mask, j]`` is the least cost of leaving ``start``, visiting the free stops in
    ``mask`` and standing at free stop ``j`` (which is in ``mask``).
    """
    k = len(free)
    sub = cost[np.ix_(free, free)]
    size = 1 << k
    best = np.full((size, k), np.inf)
    parent = np.full((size, k), -1, dtype=np.int64)
    bits = 1 << np.arange(k)
    singles = bits
    best[singles, np.arange(k)] = cost[start, free]
    masks = np.arange(size)
    popcount = np.array([bin(m).count("1") for m in range(size)])
    # Position of each free stop in the order: 1 + its layer; a fixed stop keeps its own.
    fixed_at = {free.index(i): position for i, position in fixed.items()}
    held = {position: j for j, position in fixed_at.items()}

    def allowed(layer: int) -> np.ndarray:
        ok = np.ones(k, dtype=bool)
        for j, position in fixed_at.items():
            ok[j] = position == layer
        if layer in held:
            ok[:] = False
            ok[held[layer]] = True
        return ok

    best[singles[~allowed(1)], np.arange(k)[~allowed(1)]] = np.inf
    for layer in range(2, k + 1):
        layer_masks = masks[popcount == layer]
        has = (layer_masks[:, None] & bits[None, :]) != 0  # m × k: j in mask
        previous = layer_masks[:, None] ^ bits[None, :]  # m × k: mask without j
        # candidate[m, j, i] = best[mask \ j, i] + sub[i, j]
        candidate = best[previous] + sub.T[None, :, :]
        choice = candidate.argmin(axis=2)
        value = np.take_along_axis(candidate, choice[:, :, None], axis=2)[:, :, 0]
        value[~has] = np.inf
        value[:, ~allowed(layer)] = np.inf
        best[layer_masks] = value
        parent[layer_masks] = choice
    full = size - 1
    closing = np.zeros(k) if end is None else cost[free, end]
    last = int(np.argmin(best[full] + closing))
    path = []
    mask = full
    j = last
    while j >= 0:
        path.append(free[j])
        previous_j = int(parent[mask, j])
        mask ^= 1 << j
        j = previous_j if mask else -1
    path.reverse()
    return [start, *path, *([] if end is None else [end])]


# A partial route in the dynamic programme with windows: stops whose window is missed, cost
# so far, the time it may leave its last stop, that stop's place in ``free``, and the label
# it extends (None: the start).
_Label = tuple[int, float, float, int, "_Label | None"]


def _exact_windows(
    given: list[int],
    free: list[int],
    cost: np.ndarray,
    drive: np.ndarray,
    specs: Sequence[StopSpec],
    start_min: float,
    fixed: dict[int, int],
    seeds: Sequence[list[int]],
) -> list[int]:
    """The fewest missed windows, then the least cost: label-setting over subsets.

    Held–Karp's states (the free stops visited, the last one) with a Pareto set of labels
    in each instead of one number: a partial route is dropped only when another one with
    the same visited stops and last stop misses no more windows, costs no more and leaves
    no later. Leaving earlier never hurts (waiting is free), so no better completion is
    lost: the result is optimal. The arithmetic is ``timetable``'s, step for step.

    The best of ``seeds`` bounds the search: a partial route is dropped when it already
    misses more windows, or as many and its cost plus the cheapest way into every stop
    still to visit exceeds the seed's.
    """
    start = given[0]
    end = given[-1] if len(given) == len(free) + 2 else None
    k = len(free)
    night_rank = {
        j: rank for rank, j in enumerate(j for j, i in enumerate(free) if specs[i].overnight)
    }
    fixed_at = {free.index(i): position for i, position in fixed.items()}
    held = {position: j for j, position in fixed_at.items()}

    def reach(previous: int, leave: float, stop: int) -> tuple[int, float]:
        """(1 if the visit misses its window else 0, the time the visit is over)."""
        leg = float(drive[previous, stop])
        missed = not math.isfinite(leg)
        arrive = leave + (0.0 if missed else leg)
        spec = specs[stop]
        begin = arrive if spec.opens_min is None else max(arrive, spec.opens_min)
        missed = missed or (spec.closes_min is not None and arrive > spec.closes_min)
        return int(missed), begin + spec.dwell_min

    first = specs[start]
    first_begin = start_min if first.opens_min is None else max(start_min, first.opens_min)
    first_missed = int(first.closes_min is not None and start_min > first.closes_min)
    first_leave = first_begin + first.dwell_min

    labels: dict[tuple[int, int], list[_Label]] = {}
    seed = min(seeds, key=lambda o: (_missed(o, drive, specs, start_min), order_cost(o, cost)))
    bound_missed = _missed(seed, drive, specs, start_min)
    bound_cost = order_cost(seed, cost) * (1 + 1e-9) + 1e-9  # the seed itself survives
    cheapest_in = [float(np.delete(cost[:, i], i).min()) for i in free]
    home = 0.0 if end is None else float(cost[free, end].min())
    still_to_go = [
        home + sum(c for j, c in enumerate(cheapest_in) if not mask >> j & 1)
        for mask in range(1 << k)
    ]

    def add(mask: int, j: int, label: _Label) -> None:
        missed, spent, leave = label[0], label[1], label[2]
        if missed > bound_missed or (
            missed == bound_missed and spent + still_to_go[mask] > bound_cost
        ):
            return
        here = labels.setdefault((mask, j), [])
        for other in here:
            if other[0] <= missed and other[1] <= spent and other[2] <= leave:
                return
        here[:] = [o for o in here if not (missed <= o[0] and spent <= o[1] and leave <= o[2])]
        here.append(label)

    def allowed(j: int, position: int, nights_done: int) -> bool:
        if j in fixed_at and fixed_at[j] != position:
            return False
        if position in held and held[position] != j:
            return False
        return night_rank.get(j, nights_done) == nights_done

    for j in range(k):
        if allowed(j, 1, 0):
            missed, over = reach(start, first_leave, free[j])
            leave = start_min if j in night_rank else over
            cost_j = float(cost[start, free[j]])
            add(1 << j, j, (first_missed + missed, cost_j, leave, j, None))
    for mask in range(1, 1 << k):
        position = bin(mask).count("1") + 1
        nights_done = sum(1 for j in night_rank if mask >> j & 1)
        for j in range(k):
            for label in labels.get((mask, j), ()):
                for t in range(k):
                    if mask >> t & 1 or not allowed(t, position, nights_done):
                        continue
                    missed, over = reach(free[j], label[2], free[t])
                    leave = start_min if t in night_rank else over
                    spent = label[1] + float(cost[free[j], free[t]])
                    add(mask | 1 << t, t, (label[0] + missed, spent, leave, t, label))

    best_key: tuple[int, float] | None = None
    best_label: _Label | None = None
    for j in range(k):
        for label in labels.get(((1 << k) - 1, j), ()):
            key = (label[0], label[1])
            if end == start:
                missed = int(not math.isfinite(float(drive[free[j], end])))
                key = (label[0] + missed, label[1] + float(cost[free[j], end]))
            elif end is not None:
                missed, _ = reach(free[j], label[2], end)
                key = (label[0] + missed, label[1] + float(cost[free[j], end]))
            if best_key is None or key < best_key:
                best_key, best_label = key, label
    if best_label is None:  # nothing beat the seed (or the fixed places contradict)
        return seed
    path: list[int] = []
    walk: _Label | None = best_label
    while walk is not None:
        path.append(free[walk[3]])
        walk = walk[4]
    return [start, *reversed(path), *([] if end is None else [end])]


def _or_tools(
    given: list[int],
    free: list[int],
    cost: np.ndarray,
    drive: np.ndarray,
    specs: Sequence[StopSpec],
    start_min: float,
    time_limit_s: float,
    fixed: dict[int, int],
    *,
    windows: bool,
    relaxed: frozenset[int] = frozenset(),
) -> list[int]:
    """OR-Tools routing: one vehicle per day, from the night's stop to the next.

    Solver nodes are copies of stops: the free daytime stops once each, then each day's
    start and end (the day-1 start is the route's start; an overnight stop is the end of
    its day and, as another node, the start of the next; an open end is a dummy node
    reached at no cost). Missed windows: a daytime stop with a window may be left out at
    a penalty larger than any route, then is put back at its cheapest position.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2  # type: ignore[import-untyped]

    start = given[0]
    end = given[-1] if len(given) == len(free) + 2 else None
    nights = [i for i in free if specs[i].overnight]
    days = len(nights) + 1
    daytime = [i for i in free if not specs[i].overnight]
    origin: list[int] = list(daytime)  # solver node → stop (-1: the open end)
    starts: list[int] = []
    ends: list[int] = []
    for day in range(days):
        starts.append(len(origin))
        origin.append(start if day == 0 else nights[day - 1])
    for day in range(days):
        ends.append(len(origin))
        origin.append(nights[day] if day < days - 1 else (-1 if end is None else end))
    nodes = len(origin)
    day_start_copy = set(starts[1:])

    finite = cost[np.isfinite(cost)]
    largest = float(np.abs(finite).max()) if finite.size else 1.0
    scale = COST_SCALE_UNITS / max(largest, 1e-9)
    arc = np.zeros((nodes, nodes), dtype=np.int64)
    seconds = np.zeros((nodes, nodes), dtype=np.int64)
    safe_drive = np.where(np.isfinite(drive), drive, 0.0)
    for a in range(nodes):
        for b in range(nodes):
            if a == b or origin[a] < 0 or origin[b] < 0:
                continue
            arc[a, b] = int(round(cost[origin[a], origin[b]] * scale))
            dwell = 0.0 if a in day_start_copy else specs[origin[a]].dwell_min
            seconds[a, b] = int(round((dwell + safe_drive[origin[a], origin[b]]) * 60))

    manager = pywrapcp.RoutingIndexManager(nodes, days, starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    arc_list = arc.tolist()
    seconds_list = seconds.tolist()

    def arc_cost(i: int, j: int) -> int:
        return int(arc_list[manager.IndexToNode(i)][manager.IndexToNode(j)])

    def transit(i: int, j: int) -> int:
        return int(seconds_list[manager.IndexToNode(i)][manager.IndexToNode(j)])

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(arc_cost))
    for day in range(days):  # a day with no daytime stop still drives to its night's stop
        routing.SetVehicleUsedWhenEmpty(True, day)
    penalty = int(arc.max()) * (nodes + 1) + 1
    if windows:
        horizon = int(
            (
                start_min
                + MINUTES_PER_DAY
                + sum(s.dwell_min for s in specs)
                + float(safe_drive.sum())
            )
            * 60
        )
        routing.AddDimension(
            routing.RegisterTransitCallback(transit), horizon, horizon, False, "time"
        )
        time = routing.GetDimensionOrDie("time")
        start_s = int(round(start_min * 60))
        for node in range(len(daytime)):
            spec = specs[origin[node]]
            if origin[node] in relaxed or (spec.opens_min is None and spec.closes_min is None):
                continue
            low = int(round((spec.opens_min or 0.0) * 60))
            high = horizon if spec.closes_min is None else int(round(spec.closes_min * 60))
            index = manager.NodeToIndex(node)
            time.CumulVar(index).SetRange(min(low, high), high)
            routing.AddDisjunction([index], penalty)
        for day in range(days):
            first = routing.Start(day)
            if day == 0:
                spec = specs[start]
                low = max(start_s, int(round((spec.opens_min or 0.0) * 60)))
                time.CumulVar(first).SetRange(low, low)
                if spec.closes_min is not None:
                    time.SetCumulVarSoftUpperBound(first, int(round(spec.closes_min * 60)), penalty)
            else:
                time.CumulVar(first).SetRange(start_s, start_s)
            last = routing.End(day)
            stop = origin[ends[day]]
            closes = specs[stop].closes_min if stop >= 0 and stop != start else None
            if closes is not None:
                time.SetCumulVarSoftUpperBound(last, int(round(closes * 60)), penalty)
    if fixed and days == 1:
        routing.AddConstantDimension(1, nodes + 1, True, "position")
        position = routing.GetDimensionOrDie("position")
        for stop, at in fixed.items():
            position.CumulVar(manager.NodeToIndex(daytime.index(stop))).SetValue(at)

    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    solution = routing.SolveWithParameters(parameters)
    if solution is None:
        return given

    visited: list[int] = [start]
    for day in range(days):
        index = routing.Start(day)
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            visited.append(origin[manager.IndexToNode(index)])
            index = solution.Value(routing.NextVar(index))
        stop = origin[ends[day]]
        if stop >= 0:
            visited.append(stop)
    for stop in daytime:  # left out for a missed window: back in at the best position
        if stop not in visited:
            visited = _insert(visited, stop, cost, drive, specs, start_min, end)
    return visited


def _insert(
    order: list[int],
    stop: int,
    cost: np.ndarray,
    drive: np.ndarray,
    specs: Sequence[StopSpec],
    start_min: float,
    end: int | None,
) -> list[int]:
    """``stop`` inserted where it misses the fewest windows, then costs the least."""
    last = len(order) if end is None else len(order) - 1
    candidates = [[*order[:at], stop, *order[at:]] for at in range(1, last + 1)]
    return min(
        candidates,
        key=lambda o: (_missed(o, drive, specs, start_min), order_cost(o, cost)),
    )
