"""Local search on a plan of the exact model: repair every broken rule, then improve.

From a plan (one CSM per account, in numpy arrays) it takes single moves to each account's
candidate CSMs, exchanges of two accounts between a broken (or badly balanced) book and another,
and, once the move budget is spent, moves traded against sending a moved account back. Every
change is scored on the model's exact objective plus a large penalty per unit of broken rule
(each rule measured relative to its limit, limits from the rules registry through the
decomposition's arrays), and taken only when it breaks less, or breaks no more and costs less;
a plan is returned only if it keeps every rule.

Everything is vectorized over accounts except the sequential application of chosen moves, which
runs on plain floats (see :meth:`Search._apply`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .pricing import BLOCK

if TYPE_CHECKING:
    from .lagrangian import Lagrangian, Prices

#: Penalty per unit of broken rule (rules are measured relative to their limit) in the search.
PENALTY = 100.0
#: Times the repair may widen the candidates, CSMs added per account of a broken book, and
#: most books under a minimum offered to every account.
WIDEN_LIMIT = 6
WIDEN_COLUMNS = 4
WIDEN_UNDER = 16
#: Exchange repair: broken books tried per round, accounts of other books sampled, and the
#: book's smallest, largest and high-risk accounts tried (this many of each).
SWAP_BOOKS = 32
SWAP_OTHERS = 1500
SWAP_TRIES = 8
#: Exchanges for balance made in one go before single moves are looked at again.
SWAP_ROUND = 64


@dataclass
class _Books:
    """A plan during the search and what it adds up to: per account its CSM, pair cost,
    workload and whether it moved; per book its totals; the team's moves and moved ARR."""

    choice: np.ndarray
    cost: np.ndarray
    work: np.ndarray
    moved: np.ndarray
    count: np.ndarray
    risk: np.ndarray
    arr: np.ndarray
    wl: np.ndarray
    moves: float
    moved_arr: float


@dataclass
class _Candidates:
    """Each account's candidate CSMs with the pair's cost, workload and whether taking it
    counts as a move."""

    csm: np.ndarray
    cost: np.ndarray
    work: np.ndarray
    moved: np.ndarray

    def extend(self, lag: Lagrangian, has_current: np.ndarray, extra: np.ndarray) -> None:
        rows = np.arange(len(extra))
        self.csm = np.hstack([self.csm, extra])
        self.cost = np.hstack([self.cost, lag.pair_costs(rows, extra)])
        self.work = np.hstack([self.work, lag.workload_of(rows, extra)])
        current = lag.pricing.current
        self.moved = np.hstack([self.moved, has_current[:, None] & (extra != current[:, None])])


class Search:
    """Local search over single account moves: the model's exact objective, and never more
    broken rules (a move is taken when it breaks less, or breaks no more and costs less)."""

    def __init__(self, lag: Lagrangian) -> None:
        self.lag = lag
        p = lag.pricing
        inf = math.inf
        self.count_lo, self.count_cap = lag.count_lo, lag.count_cap
        self.count_scale = np.where(
            np.isfinite(lag.count_cap), np.maximum(lag.count_cap, 1), np.maximum(lag.count_lo, 1)
        )
        self.risk_lo, self.risk_cap = lag.risk_lo, lag.risk_cap
        self.risk_scale = np.where(
            np.isfinite(lag.risk_cap), np.maximum(lag.risk_cap, 1), np.maximum(lag.risk_lo, 1)
        )
        self.arr_scale = np.maximum(lag.target["arr"], 1e-9)
        self.workload_scale = np.maximum(lag.target["workload"], 1e-9)
        band = lag.band
        self.arr_up = (1 + band) * lag.target["arr"]
        self.arr_down = (1 - band) * lag.target["arr"]
        self.workload_up = (1 + band) * lag.target["workload"]
        self.workload_down = (1 - band) * lag.target["workload"]
        self.max_moves = inf if lag.max_moves is None else lag.max_moves
        self.max_moved_arr = inf if lag.max_moved_arr is None else lag.max_moved_arr
        self.moves_scale = max(self.max_moves, 1.0) if math.isfinite(self.max_moves) else 1.0
        self.moved_scale = (
            max(self.max_moved_arr, 1e-9) if math.isfinite(self.max_moved_arr) else 1.0
        )
        self.has_current = p.current >= 0
        #: Where the last :meth:`run` ended (repaired or not), to go on from.
        self.partial: np.ndarray | None = None
        #: The pairs the search may use, as sorted keys ``account * CSMs + CSM`` (``None``:
        #: every eligible pair). A restricted model's pairs keep its plans plans of it.
        self.allowed: np.ndarray | None = None

    def restrict(self, pairs: list[tuple[int, int]]) -> None:
        """Use only ``pairs`` (account, CSM) from now on: single moves go to the candidates
        given to :meth:`run`, and exchanges and widened candidates keep to these pairs."""
        m = self.lag.m
        self.allowed = np.unique(np.fromiter((a * m + c for a, c in pairs), dtype=np.int64))

    def _allows(self, rows: np.ndarray, csms: np.ndarray) -> np.ndarray:
        """Whether each (row, CSM) pair (broadcast) may be used."""
        if self.allowed is None:
            return np.ones(np.broadcast_shapes(np.shape(rows), np.shape(csms)), dtype=bool)
        keys = np.asarray(rows, dtype=np.int64) * self.lag.m + np.asarray(csms, dtype=np.int64)
        at = np.searchsorted(self.allowed, keys)
        at = np.minimum(at, len(self.allowed) - 1)
        return self.allowed[at] == keys

    # -------------------------------------------------------------- per-book cost, vectorized
    def _broken(
        self, c: np.ndarray, count: np.ndarray, risk: np.ndarray, arr: np.ndarray, wl: np.ndarray
    ) -> np.ndarray:
        lag = self.lag
        out = np.maximum(count - self.count_cap[c], 0) / self.count_scale[c]
        out += np.maximum(self.count_lo[c] - count, 0) / self.count_scale[c]
        out += np.maximum(risk - self.risk_cap[c], 0) / self.risk_scale[c]
        out += np.maximum(self.risk_lo[c] - risk, 0) / self.risk_scale[c]
        out += (
            np.maximum(arr - lag.arr_hi[c], 0) + np.maximum(lag.arr_lo[c] - arr, 0)
        ) / self.arr_scale[c]
        if lag.has_workload:
            out += (
                np.maximum(wl - lag.workload_hi[c], 0) + np.maximum(lag.workload_lo[c] - wl, 0)
            ) / self.workload_scale[c]
        return out

    def _sides(self, books: _Books) -> tuple[np.ndarray, np.ndarray]:
        """Per book: whether it is over any of its limits, and whether it is under a minimum."""
        lag = self.lag
        over = (books.count > self.count_cap) | (books.risk > self.risk_cap)
        over |= books.arr > lag.arr_hi
        under = books.arr < lag.arr_lo
        under |= (books.count < self.count_lo) | (books.risk < self.risk_lo)
        if lag.has_workload:
            over |= books.wl > lag.workload_hi
            under |= books.wl < lag.workload_lo
        return over, under

    def _balance(self, c: np.ndarray, arr: np.ndarray, wl: np.ndarray) -> np.ndarray:
        lag = self.lag
        out = lag.share["arr"] * (
            np.maximum(arr - self.arr_up[c], 0) + np.maximum(self.arr_down[c] - arr, 0)
        )
        if lag.share["workload"]:
            out += lag.share["workload"] * (
                np.maximum(wl - self.workload_up[c], 0) + np.maximum(self.workload_down[c] - wl, 0)
            )
        return out

    def _team_broken(self, moves: np.ndarray | float, moved: np.ndarray | float) -> np.ndarray:
        return (
            np.maximum(np.asarray(moves) - self.max_moves, 0) / self.moves_scale
            + np.maximum(np.asarray(moved) - self.max_moved_arr, 0) / self.moved_scale
        )

    def evaluate(self, choice: np.ndarray) -> tuple[float, float]:
        """The model's objective of ``choice`` and how much it breaks the rules (0 = none)."""
        lag = self.lag
        rows = np.arange(lag.n)
        costs = lag.pair_costs(rows, choice[:, None])[:, 0]
        t = lag.totals(choice)
        every = np.arange(lag.m)
        count, risk = np.asarray(t["count"]), np.asarray(t["risk"])
        arr, wl = np.asarray(t["arr"]), np.asarray(t["workload"])
        objective = float(costs.sum() + self._balance(every, arr, wl).sum())
        moved = self.has_current & (choice != lag.pricing.current)
        broken = float(self._broken(every, count, risk, arr, wl).sum())
        broken += float(self._team_broken(moved.sum(), lag.pricing.arr_share[moved].sum()))
        if not np.all(np.isfinite(costs)):
            broken = math.inf
        return objective, broken

    def run(
        self,
        choice: np.ndarray,
        candidates: np.ndarray,
        deadline: float,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.perf_counter,
        repair_only: bool = False,
    ) -> tuple[np.ndarray | None, float | None]:
        """Improve ``choice`` by single moves to candidate CSMs until no move helps or time
        ends (or, with ``repair_only``, as soon as every rule holds); the plan and its
        objective if it keeps every rule, else ``(None, None)``."""
        lag = self.lag
        p = lag.pricing
        rows = np.arange(lag.n)
        current, share, high = p.current, p.arr_share, p.high_risk
        books = self._books(choice.copy())
        # Moving to a candidate changes the move count by +1 (leaving today's CSM), -1 (going
        # back to it) or 0.
        cands = _Candidates(
            candidates,
            lag.pair_costs(rows, candidates),
            lag.workload_of(rows, candidates),
            self.has_current[:, None] & (candidates != current[:, None]),
        )
        tol = 1e-12
        widened = 0
        while clock() < deadline and not (stop is not None and stop.is_set()):
            # Repair first: while a rule is broken, only moves that break less are taken.
            repairing = self.evaluate(books.choice)[1] > 1e-9
            if repair_only and not repairing:
                break
            # While repairing, only an account of a book over a limit, or one with a candidate
            # book under a minimum, can break less by moving (unless the team's move budget is
            # broken): the round scores those accounts only.
            sel = rows
            if repairing and not self._team_broken(books.moves, books.moved_arr) > 0:
                over, under = self._sides(books)
                sel = np.flatnonzero(over[books.choice] | under[cands.csm].any(axis=1))
            local = np.arange(len(sel))
            src = books.choice[sel]
            s_share, s_high, s_work = share[sel], high[sel], books.work[sel]
            count, risk, arr, wl = books.count, books.risk, books.arr, books.wl
            d_src_broken = self._broken(
                src, count[src] - 1, risk[src] - s_high, arr[src] - s_share, wl[src] - s_work
            ) - self._broken(src, count[src], risk[src], arr[src], wl[src])
            d_src_cost = self._balance(src, arr[src] - s_share, wl[src] - s_work) - self._balance(
                src, arr[src], wl[src]
            )
            dst = cands.csm[sel]
            c_work, c_cost = cands.work[sel], cands.cost[sel]
            d_dst_broken = self._broken(
                dst,
                count[dst] + 1,
                risk[dst] + s_high[:, None],
                arr[dst] + s_share[:, None],
                wl[dst] + c_work,
            ) - self._broken(dst, count[dst], risk[dst], arr[dst], wl[dst])
            d_dst_cost = self._balance(
                dst, arr[dst] + s_share[:, None], wl[dst] + c_work
            ) - self._balance(dst, arr[dst], wl[dst])
            d_moves = cands.moved[sel].astype(float) - books.moved[sel][:, None]
            d_team = self._team_broken(
                books.moves + d_moves, books.moved_arr + d_moves * s_share[:, None]
            ) - self._team_broken(books.moves, books.moved_arr)
            broken = d_src_broken[:, None] + d_dst_broken + d_team
            cost = c_cost - books.cost[sel][:, None] + d_src_cost[:, None] + d_dst_cost
            score = cost + PENALTY * broken
            useless_but_team = (dst == src[:, None]) | ~np.isfinite(c_cost)
            useless = useless_but_team | (broken > (-tol if repairing else tol))
            score[useless] = math.inf
            k = np.argmin(score, axis=1)
            best = score[local, k]
            movers = np.flatnonzero(best < -1e-12)
            if len(movers) == 0 and not repairing and self._budget_full(books):
                # The move budget is spent: a move that would help pairs with sending a moved
                # account back to today's CSM where that loses less.
                lone = d_src_broken[:, None] + d_dst_broken
                ops = self._trades(cands, cost, lone, d_moves, books.moved, useless_but_team)
                if ops and self._apply(ops, books, cands, repairing, deadline, clock):
                    continue
            if len(movers) == 0:
                # No single move to a candidate helps. Exchange two accounts between a broken
                # book (or, once every rule holds, a book far from its balance band) and
                # another one: a book at its account limit can only change that way.
                swapped = 0
                while clock() < deadline and not (stop is not None and stop.is_set()):
                    done = self._swap(books, improve=not repairing)
                    swapped += done
                    if not done or (not repairing and swapped >= SWAP_ROUND):
                        break
                if swapped:
                    continue
                if widened >= WIDEN_LIMIT:
                    break
                # Then look further: to every CSM for the accounts of books over a limit, to
                # the books under a minimum (or under their balance band) for every account.
                widened += 1
                extra = self._widen(books, improve=not repairing)
                if self.allowed is not None and extra.shape[1]:
                    # A pair not allowed becomes the account's own CSM (no move).
                    keep = self._allows(rows[:, None], extra)
                    extra = np.where(keep, extra, books.choice[:, None])
                if extra.shape[1] == 0:
                    break
                cands.extend(lag, self.has_current, extra)
                continue
            movers = movers[np.argsort(best[movers], kind="stable")]
            ops = [
                [(a, pick)]
                for a, pick in zip(sel[movers].tolist(), k[movers].tolist(), strict=True)
            ]
            applied = self._apply(ops, books, cands, repairing, deadline, clock)
            if applied == 0 and not repairing:
                break
        objective, broken_total = self.evaluate(books.choice)
        self.partial = books.choice
        if broken_total > 1e-9:
            return None, None
        return books.choice, objective

    def _books(self, choice: np.ndarray) -> _Books:
        """The search's state for ``choice`` (which it then changes in place)."""
        lag = self.lag
        rows = np.arange(lag.n)
        t = lag.totals(choice)
        moved = self.has_current & (choice != lag.pricing.current)
        return _Books(
            choice=choice,
            cost=lag.pair_costs(rows, choice[:, None])[:, 0],
            work=lag.workload_of(rows, choice[:, None])[:, 0],
            moved=moved,
            count=np.asarray(t["count"]).copy(),
            risk=np.asarray(t["risk"]).copy(),
            arr=np.asarray(t["arr"]).copy(),
            wl=np.asarray(t["workload"]).copy(),
            moves=float(moved.sum()),
            moved_arr=float(lag.pricing.arr_share[moved].sum()),
        )

    def greedy(self, prices: Prices, candidates: np.ndarray) -> np.ndarray:
        """Deal the accounts one by one, most to lose first, each to its cheapest candidate at
        ``prices`` that has room under every upper limit (book limits, move budget); an account
        with no such candidate takes its cheapest one (the search repairs it)."""
        lag = self.lag
        p = lag.pricing
        n = lag.n
        rows = np.arange(n)
        reduced = lag.pair_costs(rows, candidates) + lag._adjust(prices, rows, candidates)
        order = np.argsort(reduced, axis=1, kind="stable")
        ranked = np.take_along_axis(candidates, order, axis=1)
        values = np.take_along_axis(reduced, order, axis=1)
        if values.shape[1] > 1:
            regret = np.where(np.isfinite(values[:, 1]), values[:, 1] - values[:, 0], math.inf)
        else:
            regret = np.full(n, math.inf)
        work = lag.workload_of(rows, ranked)
        current = p.current.tolist()
        has_current = self.has_current.tolist()
        share, high = p.arr_share.tolist(), p.high_risk.tolist()
        count = [0.0] * lag.m
        risk = [0.0] * lag.m
        arr = [0.0] * lag.m
        wl = [0.0] * lag.m
        cap, rcap = lag.count_cap.tolist(), lag.risk_cap.tolist()
        hi, whi = lag.arr_hi.tolist(), lag.workload_hi.tolist()
        moves, moved_arr = 0.0, 0.0
        max_moves, max_moved = self.max_moves, self.max_moved_arr
        out = np.empty(n, dtype=np.int64)
        ranked_l, finite = ranked.tolist(), np.isfinite(values).tolist()
        for a in np.argsort(-regret, kind="stable").tolist():
            s, h = share[a], high[a]
            chosen = -1
            for k, c in enumerate(ranked_l[a]):
                if not finite[a][k]:
                    break
                w = float(work[a, k])
                move = has_current[a] and c != current[a]
                if (
                    count[c] + 1 <= cap[c]
                    and risk[c] + h <= rcap[c]
                    and arr[c] + s <= hi[c] + 1e-12
                    and wl[c] + w <= whi[c] + 1e-12
                    and (not move or (moves + 1 <= max_moves and moved_arr + s <= max_moved))
                ):
                    chosen = k
                    break
            k = max(chosen, 0)
            c = ranked_l[a][k]
            out[a] = c
            count[c] += 1
            risk[c] += h
            arr[c] += s
            wl[c] += float(work[a, k])
            if has_current[a] and c != current[a]:
                moves += 1
                moved_arr += s
        return out

    def _budget_full(self, books: _Books) -> bool:
        return books.moves >= self.max_moves - 0.5 or books.moved_arr >= self.max_moved_arr - 1e-9

    def _trades(
        self,
        cands: _Candidates,
        cost: np.ndarray,
        lone: np.ndarray,
        d_moves: np.ndarray,
        moved_now: np.ndarray,
        useless: np.ndarray,
    ) -> list[list[tuple[int, int]]]:
        """Pairs (send a moved account back, make a new move): the most helpful new moves
        that only the move budget blocks, with the moved accounts that lose least by going
        back (``cost`` and ``lone`` are each candidate's change in cost and in broken book
        rules, without the team's rules)."""
        rows = np.arange(len(cands.csm))
        current = self.lag.pricing.current
        fine = ~useless & (lone <= 1e-12)
        blocked = np.where(fine & (d_moves > 0) & (cost < -1e-12), cost, math.inf)
        k_new = np.argmin(blocked, axis=1)
        gain = blocked[rows, k_new]
        takers = np.flatnonzero(np.isfinite(gain))
        back = fine & moved_now[:, None] & (cands.csm == current[:, None])
        loss = np.where(back, cost, math.inf)
        k_back = np.argmin(loss, axis=1)
        lose = loss[rows, k_back]
        givers = np.flatnonzero(np.isfinite(lose))
        if len(takers) == 0 or len(givers) == 0:
            return []
        takers = takers[np.argsort(gain[takers], kind="stable")]
        givers = givers[np.argsort(lose[givers], kind="stable")]
        ops: list[list[tuple[int, int]]] = []
        used: set[int] = set()
        j = 0
        for a in takers.tolist():
            while j < len(givers) and int(givers[j]) in used | {a}:
                j += 1
            if j >= len(givers) or gain[a] + lose[givers[j]] >= -1e-12:
                break
            r = int(givers[j])
            ops.append([(r, int(k_back[r])), (a, int(k_new[a]))])
            used.update((a, r))
            j += 1
        return ops

    def _swap(self, books: _Books, improve: bool = False) -> int:
        """For each broken book (a few), the exchange of one of its accounts with one account
        of another book that breaks least (then costs least); applied when it breaks less.
        With ``improve`` (every rule holds), the books furthest from their balance band
        instead, and exchanges that break nothing and cost less. Returns the exchanges made."""
        lag = self.lag
        p = lag.pricing
        every = np.arange(lag.m)
        share, high, current = p.arr_share, p.high_risk, p.current
        choice, count, risk, arr, wl = books.choice, books.count, books.risk, books.arr, books.wl
        cost_now, work_now, moved_now = books.cost, books.work, books.moved
        rng = np.random.default_rng(len(choice) + int(books.moves))
        done = 0
        broken_now = self._broken(every, count, risk, arr, wl)
        rank = self._balance(every, arr, wl) if improve else broken_now
        for c in np.argsort(-rank, kind="stable")[:SWAP_BOOKS].tolist():
            if rank[c] <= 1e-12:
                break
            mine = np.flatnonzero(choice == c)
            if len(choice) > 4 * SWAP_OTHERS:
                # Many accounts: a random draw (most of them are in other books) instead of a
                # pass over all of them, which dominated the repair at 250,000 accounts; cut to
                # SWAP_OTHERS below like any other list (not by position: the draw is sorted).
                others = np.unique(rng.integers(0, len(choice), 2 * SWAP_OTHERS))
                others = others[(choice[others] != c) & p.eligible[p.group[others], c]]
            else:
                others = np.flatnonzero((choice != c) & p.eligible[p.group, c])
            if len(mine) == 0 or len(others) == 0:
                continue
            if len(others) > SWAP_OTHERS:
                others = np.sort(rng.choice(others, SWAP_OTHERS, replace=False))
            by_arr = mine[np.argsort(share[mine], kind="stable")]
            tried = np.unique(
                np.concatenate(
                    [by_arr[:SWAP_TRIES], by_arr[-SWAP_TRIES:], mine[high[mine] > 0][:SWAP_TRIES]]
                )
            )
            d = choice[others]
            col_c = np.full((len(others), 1), c)
            w_bc = lag.workload_of(others, col_c)[:, 0]
            pc_bc = lag.pair_costs(others, col_c)[:, 0]
            will_b = (self.has_current[others] & (current[others] != c)).astype(float)
            step_b = will_b - moved_now[others]
            base_d = self._broken(d, count[d], risk[d], arr[d], wl[d])
            balance_d = self._balance(d, arr[d], wl[d])
            balance_c = float(self._balance(np.asarray([c]), arr[[c]], wl[[c]])[0])
            # Every tried account a of book c against every sampled b (rows a, columns b).
            dd = np.broadcast_to(d, (len(tried), len(others)))
            cc = np.full(dd.shape, c)
            sa, ha = share[tried][:, None], high[tried][:, None]
            sb, hb = share[others][None, :], high[others][None, :]
            w_ad = lag.workload_of(tried, dd)
            pc_ad = lag.pair_costs(tried, dd)
            new_c_arr = arr[c] + sb - sa
            new_c_wl = wl[c] + w_bc[None, :] - work_now[tried][:, None]
            new_d_arr = arr[dd] + sa - sb
            new_d_wl = wl[dd] + w_ad - work_now[others][None, :]
            d_broken = (
                self._broken(cc, count[cc], risk[c] + hb - ha, new_c_arr, new_c_wl)
                - broken_now[c]
                + self._broken(dd, count[dd], risk[dd] + ha - hb, new_d_arr, new_d_wl)
                - base_d[None, :]
            )
            step_a = (self.has_current[tried][:, None] & (current[tried][:, None] != dd)).astype(
                float
            ) - moved_now[tried][:, None].astype(float)
            dm = step_a + step_b[None, :]
            dma = step_a * sa + step_b[None, :] * sb
            d_broken += self._team_broken(
                books.moves + dm, books.moved_arr + dma
            ) - self._team_broken(books.moves, books.moved_arr)
            d_cost = (
                pc_ad
                + pc_bc[None, :]
                - cost_now[tried][:, None]
                - cost_now[others][None, :]
                + self._balance(cc, new_c_arr, new_c_wl)
                - balance_c
                + self._balance(dd, new_d_arr, new_d_wl)
                - balance_d[None, :]
            )
            score = d_cost + PENALTY * d_broken
            useless = (d_broken > 1e-12) | (score >= -1e-12) if improve else d_broken >= -1e-12
            score[useless | ~np.isfinite(pc_ad) | ~np.isfinite(pc_bc)[None, :]] = math.inf
            if self.allowed is not None:
                score[~(self._allows(tried[:, None], dd) & self._allows(others, c)[None, :])] = (
                    math.inf
                )
            flat = int(np.argmin(score))
            i, j = divmod(flat, len(others))
            best = (
                (float(score[i, j]), int(tried[i]), int(others[j]))
                if math.isfinite(score[i, j])
                else None
            )
            if best is None:
                continue
            _, a, b = best
            db = int(choice[b])
            self._move(books, a, db)
            self._move(books, b, c)
            done += 1
            broken_now = self._broken(every, count, risk, arr, wl)
        return done

    def _move(self, books: _Books, a: int, target: int) -> None:
        """Move account ``a`` to CSM ``target`` in ``books``."""
        lag = self.lag
        p = lag.pricing
        source = int(books.choice[a])
        pair = (np.asarray([a]), np.asarray([[target]]))
        work = float(lag.workload_of(*pair)[0, 0])
        s, h = p.arr_share[a], p.high_risk[a]
        books.count[source] -= 1
        books.count[target] += 1
        books.risk[source] -= h
        books.risk[target] += h
        books.arr[source] -= s
        books.arr[target] += s
        books.wl[source] -= books.work[a]
        books.wl[target] += work
        will = bool(self.has_current[a]) and target != p.current[a]
        dm = float(will) - float(books.moved[a])
        books.moves += dm
        books.moved_arr += dm * s
        books.moved[a] = will
        books.choice[a] = target
        books.cost[a] = float(lag.pair_costs(*pair)[0, 0])
        books.work[a] = work

    def _widen(self, books: _Books, improve: bool = False) -> np.ndarray:
        """Extra candidate columns for the repair: each account of a book over a limit gets
        the CSMs (among all) where it would break least and cost least; every account gets the
        books under a minimum (a few of them). With ``improve`` (every rule holds): every
        account gets the books furthest under their balance band."""
        lag = self.lag
        n, m = lag.n, lag.m
        choice, count, risk, arr, wl = books.choice, books.count, books.risk, books.arr, books.wl
        if improve:
            short = np.maximum(self.arr_down - arr, 0) * lag.share["arr"]
            if lag.share["workload"]:
                short += np.maximum(self.workload_down - wl, 0) * lag.share["workload"]
            short_books = [
                c for c in np.argsort(-short, kind="stable")[:WIDEN_UNDER] if short[c] > 0
            ]
            if not short_books:
                return np.empty((n, 0), dtype=np.int64)
            return np.stack([np.full(n, c) for c in short_books], axis=1).astype(np.int64)
        over = (count > lag.count_cap) | (risk > lag.risk_cap) | (arr > lag.arr_hi + 1e-12)
        under = arr < lag.arr_lo - 1e-12
        under |= (count < lag.count_lo) | (risk < lag.risk_lo)
        if lag.has_workload:
            over |= wl > lag.workload_hi + 1e-12
            under |= wl < lag.workload_lo - 1e-12
        columns = [np.full(n, u) for u in np.flatnonzero(under)[:WIDEN_UNDER]]
        movers = np.flatnonzero(over[choice])
        if len(movers):
            picks = np.repeat(choice[:, None], WIDEN_COLUMNS, axis=1)
            every = np.arange(m)
            high, share = lag.pricing.high_risk, lag.pricing.arr_share
            for lo in range(0, len(movers), BLOCK):
                rows = movers[lo : lo + BLOCK]
                dst = np.broadcast_to(every, (len(rows), m))
                work = self.lag.workload_of(rows, dst)
                score = lag.pair_costs(rows, dst) + PENALTY * (
                    self._broken(
                        dst,
                        count[dst] + 1,
                        risk[dst] + high[rows, None],
                        arr[dst] + share[rows, None],
                        wl[dst] + work,
                    )
                    - self._broken(dst, count[dst], risk[dst], arr[dst], wl[dst])
                )
                score[dst == choice[rows, None]] = math.inf
                k = min(WIDEN_COLUMNS, m)
                top = np.argpartition(score, k - 1, axis=1)[:, :k]
                picks[rows, :k] = top
            columns.extend(picks.T)
        if not columns:
            return np.empty((n, 0), dtype=np.int64)
        return np.stack(columns, axis=1).astype(np.int64)

    def _apply(
        self,
        ops: list[list[tuple[int, int]]],
        books: _Books,
        cands: _Candidates,
        repairing: bool,
        deadline: float,
        clock: Callable[[], float],
    ) -> int:
        """Apply the chosen operations one by one (each one or more moves (account, candidate)
        taken together), each re-priced exactly at the books as they are then (the vectorized
        prices assumed no other move) and undone unless it breaks less, or breaks no more and
        costs less. Returns how many were applied. (The books' totals are plain floats here:
        this loop runs once per move, where numpy's per-element cost would dominate.)"""
        lag = self.lag
        p = lag.pricing
        share = p.arr_share.tolist()
        high = p.high_risk.tolist()
        current = p.current
        has_current = self.has_current
        choice, cost_now, work_now, moved_now = books.choice, books.cost, books.work, books.moved
        candidates, cand_costs, cand_work = cands.csm, cands.cost, cands.work
        applied = 0

        cap, cap_scale = self.count_cap.tolist(), self.count_scale.tolist()
        rcap, rscale = self.risk_cap.tolist(), self.risk_scale.tolist()
        clo, rlo = self.count_lo.tolist(), self.risk_lo.tolist()
        lo, hi, ascale = lag.arr_lo.tolist(), lag.arr_hi.tolist(), self.arr_scale.tolist()
        wlo, whi = lag.workload_lo.tolist(), lag.workload_hi.tolist()
        wscale = self.workload_scale.tolist()
        up, down = self.arr_up.tolist(), self.arr_down.tolist()
        wup, wdown = self.workload_up.tolist(), self.workload_down.tolist()
        ashare, wshare = lag.share["arr"], lag.share["workload"]
        has_workload = lag.has_workload
        max_moves, max_moved = self.max_moves, self.max_moved_arr
        moves_scale, moved_scale = self.moves_scale, self.moved_scale

        def book(c: int, n_: float, r_: float, a_: float, w_: float) -> tuple[float, float]:
            """(broken, balance cost) of book ``c`` with these totals: ``_broken`` and
            ``_balance`` for one book, in plain floats (this loop runs per move)."""
            broken = 0.0
            if n_ > cap[c]:
                broken += (n_ - cap[c]) / cap_scale[c]
            elif n_ < clo[c]:
                broken += (clo[c] - n_) / cap_scale[c]
            if r_ > rcap[c]:
                broken += (r_ - rcap[c]) / rscale[c]
            elif r_ < rlo[c]:
                broken += (rlo[c] - r_) / rscale[c]
            if a_ > hi[c]:
                broken += (a_ - hi[c]) / ascale[c]
            elif a_ < lo[c]:
                broken += (lo[c] - a_) / ascale[c]
            if has_workload:
                if w_ > whi[c]:
                    broken += (w_ - whi[c]) / wscale[c]
                elif w_ < wlo[c]:
                    broken += (wlo[c] - w_) / wscale[c]
            cost = 0.0
            if a_ > up[c]:
                cost += ashare * (a_ - up[c])
            elif a_ < down[c]:
                cost += ashare * (down[c] - a_)
            if wshare:
                if w_ > wup[c]:
                    cost += wshare * (w_ - wup[c])
                elif w_ < wdown[c]:
                    cost += wshare * (wdown[c] - w_)
            return broken, cost

        def team_broken(mv: float, ma: float) -> float:
            out = 0.0
            if mv > max_moves:
                out += (mv - max_moves) / moves_scale
            if ma > max_moved:
                out += (ma - max_moved) / moved_scale
            return out

        counts, risks = books.count.tolist(), books.risk.tolist()
        arrs, wls = books.arr.tolist(), books.wl.tolist()
        state = [books.moves, books.moved_arr]

        def shift(a: int, k: int) -> tuple[float, float, tuple[Any, ...]]:
            """Move account a to its candidate k: the exact change in broken rules and in cost,
            and what undoes it."""
            c = int(choice[a])
            d = int(candidates[a, k])
            s, h, w_old, w_new = share[a], high[a], float(work_now[a]), float(cand_work[a, k])
            nc, rc, ac, wc = counts[c], risks[c], arrs[c], wls[c]
            nd, rd, ad, wd = counts[d], risks[d], arrs[d], wls[d]
            src_before = book(c, nc, rc, ac, wc)
            src_after = book(c, nc - 1, rc - h, ac - s, wc - w_old)
            dst_before = book(d, nd, rd, ad, wd)
            dst_after = book(d, nd + 1, rd + h, ad + s, wd + w_new)
            was = bool(moved_now[a])
            will = bool(has_current[a]) and d != int(current[a])
            dm = float(will) - float(was)
            mv, ma = state
            d_team = team_broken(mv + dm, ma + dm * s) - team_broken(mv, ma)
            d_broken = src_after[0] - src_before[0] + dst_after[0] - dst_before[0] + d_team
            d_cost = (
                float(cand_costs[a, k])
                - float(cost_now[a])
                + src_after[1]
                - src_before[1]
                + dst_after[1]
                - dst_before[1]
            )
            undo = (a, c, d, s, h, w_old, w_new, float(cost_now[a]), was, dm)
            choice[a] = d
            counts[c], counts[d] = nc - 1, nd + 1
            risks[c], risks[d] = rc - h, rd + h
            arrs[c], arrs[d] = ac - s, ad + s
            wls[c], wls[d] = wc - w_old, wd + w_new
            cost_now[a] = cand_costs[a, k]
            work_now[a] = w_new
            moved_now[a] = will
            state[0], state[1] = mv + dm, ma + dm * s
            return d_broken, d_cost, undo

        def unshift(undo: tuple[Any, ...]) -> None:
            a, c, d, s, h, w_old, w_new, cost, was, dm = undo
            choice[a] = c
            counts[c] += 1
            counts[d] -= 1
            risks[c] += h
            risks[d] -= h
            arrs[c] += s
            arrs[d] -= s
            wls[c] += w_old
            wls[d] -= w_new
            cost_now[a] = cost
            work_now[a] = w_old
            moved_now[a] = was
            state[0] -= dm
            state[1] -= dm * s

        for step, op in enumerate(ops):
            if step % 256 == 0 and clock() >= deadline:
                break
            if any(int(candidates[a, k]) == int(choice[a]) for a, k in op):
                continue
            total_broken = total_cost = 0.0
            undos = []
            for a, k in op:
                d_broken, d_cost, undo = shift(a, k)
                total_broken += d_broken
                total_cost += d_cost
                undos.append(undo)
            rejected = total_broken > (-1e-12 if repairing else 1e-12) or (
                total_broken > -1e-12 and total_cost >= -1e-12
            )
            if rejected:
                for undo in reversed(undos):
                    unshift(undo)
                continue
            applied += 1
        books.moves, books.moved_arr = state
        books.count[:], books.risk[:], books.arr[:], books.wl[:] = counts, risks, arrs, wls
        return applied
