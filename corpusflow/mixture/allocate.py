"""Allocation: from census + config to a plan of per-cell copy counts (pure, no Beam).

Notation (docs/design.md#mixture-allocation), per (source, lang) cell s of group g, in the budget unit
(tokens of the configured tokenizer, or characters):

* ``A_s`` available, ``m_s`` multiplier, ``S_s`` usable (the ``max_fraction`` subset: the
  documents with the lowest selection keys, cut at a histogram bucket boundary),
* cap ``C_s = max_epochs_s x S_s`` (no document is copied more than ``ceil(max_epochs)``
  times),
* group target ``T_g = share_g x T``. Cells with an explicit ``share`` get ``share x T_g``;
  the rest of ``T_g`` is *water-filled* over the natural cells in proportion to ``m_s x A_s``:
  cells whose proportional part exceeds their cap get the cap, the remainder is spread over
  the others, until stable (OLMo-core / Megatron logic moved to data-prep time).
* ``budget: all`` takes the largest ``T`` such that every group can reach its share with each
  cell used at most ``m_s x S_s`` (its usable data, once, times its multiplier).

A group that cannot reach its target under the caps is a *shortfall*: ``fail`` raises
:class:`MixtureShortfall` naming the binding caps, ``shrink`` lowers ``T`` until every group
fits (shares kept), ``report`` takes what exists and records the deficit.

Discretisation: a cell's desired ``D_s`` becomes ``k = floor(D_s / S_s)`` copies of every
usable document plus one more copy for the documents whose key bucket is below ``b_e``,
where ``b_e`` is the bucket boundary whose cumulative amount is closest to ``D_s - k S_s``.
So the realised amount is known exactly from the census before anything is written, and a
document gets either ``k`` or ``k + 1`` copies (docs/design.md#mixture-allocation, epoch caps).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from corpusflow.mixture.census import N_BUCKETS, Cell, CellCensus
from corpusflow.mixture.config import MixtureStageConfig

_EPS = 1e-9


class MixtureShortfall(Exception):
    """The configured mixture cannot be built from the data under the configured caps."""


class MixtureConfigError(Exception):
    """The mixture config does not fit the data (e.g. explicit shares with nothing natural)."""


@dataclass
class CellPlan:
    source: str
    lang: str
    group: str | None
    docs: int
    tokens: int
    chars: int
    bytes: int
    available: int  # in the unit
    weight: str  # natural | share | excluded
    multiplier: float
    share: float | None
    max_epochs: float
    max_fraction: float
    usable: int = 0
    usable_bucket: int = N_BUCKETS
    cap: float = 0.0
    target: float = 0.0
    rate: float = 0.0
    full_copies: int = 0
    extra_bucket: int = 0
    achieved: int = 0
    achieved_tokens: int = 0
    achieved_chars: int = 0
    achieved_bytes_est: int = 0
    selected_docs: int = 0
    copies_total: int = 0
    copies_hist: dict[str, int] = field(default_factory=dict)
    binding: str | None = None

    @property
    def cell(self) -> Cell:
        return (self.source, self.lang)

    def copies(self, bucket: int) -> int:
        """Copies of a document of this cell whose selection key falls in ``bucket``."""
        if bucket >= self.usable_bucket:
            return 0
        return self.full_copies + (1 if bucket < self.extra_bucket else 0)


@dataclass
class GroupPlan:
    name: str
    share: float
    cells: list[str]
    available: int
    capacity: float
    target: float
    achieved: int = 0
    achieved_share: float = 0.0
    achieved_tokens: int = 0
    achieved_chars: int = 0
    achieved_bytes_est: int = 0
    shortfall: float = 0.0


@dataclass
class MixturePlan:
    seed: int
    unit: str
    budget: int | str
    on_shortfall: str
    total_target: float
    total_capacity: float
    groups: dict[str, GroupPlan]
    cells: list[CellPlan]
    num_shards: int
    shard_target_bytes: int
    shard_multiple: int
    shrunk_from: float | None = None
    shortfall: list[str] = field(default_factory=list)
    excluded_cells: list[str] = field(default_factory=list)
    #: ``on_shortfall: fail`` met a shortfall: the plan is what ``report`` would make (what each
    #: group can give), no training copy is routed, and these are the reasons (empty otherwise).
    failed: list[str] = field(default_factory=list)
    #: With ``failed``: ``stages.mixture`` overrides under which the same census plans without a
    #: shortfall (checked by planning them), or empty when none was found.
    feasible_overrides: list[str] = field(default_factory=list)
    _lookup: dict[Cell, CellPlan] = field(default_factory=dict, repr=False, compare=False)

    def cell(self, source: str, lang: str) -> CellPlan | None:
        if not self._lookup:
            self._lookup = {c.cell: c for c in self.cells}
        return self._lookup.get((source, lang))

    def copy_table(self) -> dict[Cell, tuple[int, int, int]]:
        """(full_copies, extra_bucket, usable_bucket) per cell: what routing needs (no copy at
        all when the plan ``failed``)."""
        if self.failed:
            return {c.cell: (0, 0, 0) for c in self.cells}
        return {c.cell: (c.full_copies, c.extra_bucket, c.usable_bucket) for c in self.cells}

    @property
    def achieved_total(self) -> int:
        return sum(c.achieved for c in self.cells)

    def to_jsonable(self) -> dict[str, Any]:
        total = self.achieved_total
        tot_tok = sum(c.achieved_tokens for c in self.cells)
        tot_chr = sum(c.achieved_chars for c in self.cells)
        tot_byt = sum(c.achieved_bytes_est for c in self.cells)
        groups = {}
        for name, g in self.groups.items():
            d = asdict(g)
            d["target"] = round(g.target)
            d["capacity"] = round(g.capacity) if math.isfinite(g.capacity) else None
            d["shortfall"] = round(g.shortfall)
            d["achieved_share"] = round(g.achieved_share, 6)
            d["error_pp"] = round(100.0 * (g.achieved_share - g.share), 4)
            d["share_of_tokens"] = round(g.achieved_tokens / tot_tok, 6) if tot_tok else 0.0
            d["share_of_chars"] = round(g.achieved_chars / tot_chr, 6) if tot_chr else 0.0
            d["share_of_bytes_est"] = round(g.achieved_bytes_est / tot_byt, 6) if tot_byt else 0.0
            groups[name] = d
        cells = []
        for c in self.cells:
            d = asdict(c)
            d["target"] = round(c.target)
            d["cap"] = round(c.cap)
            d["rate"] = round(c.rate, 6)
            cells.append(d)
        return {
            "seed": self.seed,
            "unit": self.unit,
            "budget": self.budget,
            "on_shortfall": self.on_shortfall,
            "total_target": round(self.total_target),
            "total_capacity": round(self.total_capacity) if math.isfinite(self.total_capacity) else None,
            "total_achieved": total,
            "shrunk_from": round(self.shrunk_from) if self.shrunk_from is not None else None,
            "shortfall": list(self.shortfall),
            "num_shards": self.num_shards,
            "shard_target_bytes": self.shard_target_bytes,
            "shard_multiple": self.shard_multiple,
            "groups": groups,
            "cells": cells,
            "excluded_cells": list(self.excluded_cells),
            **({"failed": list(self.failed), "feasible_overrides": list(self.feasible_overrides)}
               if self.failed else {}),
        }


# ------------------------------------------------------------------------------------------------
# Arithmetic
# ------------------------------------------------------------------------------------------------


def water_fill(total: float, weights: list[float], caps: list[float]) -> tuple[list[float], float]:
    """Split ``total`` in proportion to ``weights`` without exceeding ``caps``.

    Cells whose proportional part exceeds their cap get exactly the cap and leave the
    allocation; the rest is re-split over the remaining cells, until nobody exceeds. Returns the
    allocation and the part of ``total`` that could not be placed (0 unless every cell with a
    positive weight is capped).
    """
    n = len(weights)
    alloc = [0.0] * n
    active = [i for i in range(n) if weights[i] > 0 and caps[i] > 0]
    remaining = float(total)
    while active and remaining > _EPS:
        wsum = sum(weights[i] for i in active)
        lam = remaining / wsum
        capped = [i for i in active if lam * weights[i] >= caps[i]]
        if not capped:
            for i in active:
                alloc[i] = lam * weights[i]
            remaining = 0.0
            break
        for i in capped:
            alloc[i] = float(caps[i])
            remaining -= caps[i]
        capped_set = set(capped)
        active = [i for i in active if i not in capped_set]
    return alloc, max(0.0, remaining)


def group_capacity(cells: list[CellPlan], caps: list[float]) -> float:
    """Largest group total reachable under ``caps`` (explicit shares fixed, natural water-filled)."""
    limit = math.inf
    explicit = sum(c.share or 0.0 for c in cells if c.weight == "share")
    for c, k in zip(cells, caps, strict=True):
        if c.weight == "share" and c.share:
            limit = min(limit, k / c.share)
    rest = 1.0 - explicit
    if rest > 1e-12:
        natural = sum(k for c, k in zip(cells, caps, strict=True)
                      if c.weight == "natural" and c.multiplier * c.available > 0)
        limit = min(limit, natural / rest)
    return limit


def nearest_boundary(cum: np.ndarray, value: float, hi: int) -> int:
    """Index b in [0, hi] whose ``cum[b]`` is closest to ``value`` (ties: the lower b)."""
    if value <= 0:
        return 0
    i = int(np.searchsorted(cum[: hi + 1], value, side="left"))
    if i > hi:
        return hi
    if i == 0:
        return 0
    lower = i - 1
    # the smallest index holding the lower value (empty buckets share a cumulative value)
    lower = int(np.searchsorted(cum[: hi + 1], cum[lower], side="left"))
    return i if (cum[i] - value) < (value - cum[lower]) else lower


def _cumulative(h: np.ndarray) -> np.ndarray:
    out = np.zeros(h.size + 1, dtype=np.int64)
    np.cumsum(h, out=out[1:])
    return out


# ------------------------------------------------------------------------------------------------
# Plan
# ------------------------------------------------------------------------------------------------


def _cell_group(cfg: MixtureStageConfig, source: str, lang: str) -> str | None:
    key = lang if cfg.group_by == "lang" else source
    return key if key in cfg.groups else None


def _fmt(x: float) -> str:
    x = float(x)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3f}{unit}"
    return f"{x:.0f}"


_Cums = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _plan_cells(
    census: dict[Cell, CellCensus], cfg: MixtureStageConfig
) -> tuple[list[CellPlan], list[str], dict[Cell, _Cums]]:
    """Decide each cell's group, weight, usable cut and cap (excluded cells get none)."""
    unit = cfg.unit
    cells: list[CellPlan] = []
    excluded: list[str] = []
    cums: dict[Cell, _Cums] = {}
    for (source, lang) in sorted(census):
        cc = census[(source, lang)]
        scfg = cfg.source_cfg(source, lang)
        group = _cell_group(cfg, source, lang)
        cp = CellPlan(
            source=source, lang=lang, group=group, docs=cc.docs, tokens=cc.tokens, chars=cc.chars,
            bytes=cc.bytes, available=cc.total(unit),
            weight="excluded" if group is None else ("share" if scfg.share is not None else "natural"),
            multiplier=scfg.multiplier, share=scfg.share, max_epochs=scfg.epochs_cap(),
            max_fraction=scfg.max_fraction,
        )
        cum_u = _cumulative(cc.hist(unit))
        cums[cp.cell] = (cum_u, _cumulative(cc.hist_tokens), _cumulative(cc.hist_docs),
                         _cumulative(cc.hist_chars))
        if cp.max_fraction >= 1.0:
            cp.usable_bucket = N_BUCKETS
        else:
            cp.usable_bucket = nearest_boundary(cum_u, cp.max_fraction * cp.available, N_BUCKETS)
        cp.usable = int(cum_u[cp.usable_bucket])
        cp.cap = cp.max_epochs * cp.usable
        if group is None:
            excluded.append(f"{source}/{lang}")
            cp.usable_bucket = 0
            cp.cap = 0.0
        cells.append(cp)
    return cells, excluded, cums


def _check_explicit_shares(g: str, mem: list[CellPlan]) -> None:
    """Decide whether a group's explicit source shares can add up to the whole group."""
    explicit = sum(c.share or 0.0 for c in mem if c.weight == "share")
    if explicit > 1.0 + 1e-9:
        names = ", ".join(f"{c.source}={c.share:g}" for c in mem if c.weight == "share")
        raise MixtureConfigError(
            f"group {g!r}: explicit source shares sum to {explicit:g} > 1 ({names})")
    has_natural = any(c.weight == "natural" for c in mem)
    if explicit < 1.0 - 1e-9 and not has_natural and any(c.weight == "share" for c in mem):
        names = ", ".join(f"{c.source}={c.share:g}" for c in mem if c.weight == "share")
        raise MixtureConfigError(
            f"group {g!r}: explicit source shares sum to {explicit:g} < 1 ({names}) and no "
            "source of the group has a natural weight to take the rest")


def _plan_groups(
    cells: list[CellPlan], cfg: MixtureStageConfig
) -> tuple[dict[str, GroupPlan], dict[str, list[CellPlan]]]:
    """Decide each configured group's member cells (raises on impossible explicit shares)."""
    groups: dict[str, GroupPlan] = {}
    members: dict[str, list[CellPlan]] = {}
    for g, gcfg in cfg.groups.items():
        mem = [c for c in cells if c.group == g]
        members[g] = mem
        groups[g] = GroupPlan(name=g, share=gcfg.share, cells=[f"{c.source}/{c.lang}" for c in mem],
                              available=sum(c.available for c in mem), capacity=0.0, target=0.0)
        _check_explicit_shares(g, mem)
    return groups, members


def _caps_for(cells: list[CellPlan], mode: str) -> dict[Cell, float]:
    """Decide each cell's cap: its epoch cap, or for ``once`` its usable data times its multiplier."""
    if mode == "once":  # budget: all -> use data at most once times its multiplier
        return {c.cell: min(c.cap, c.multiplier * c.usable) for c in cells}
    return {c.cell: c.cap for c in cells}


def _total_capacity(
    groups: dict[str, GroupPlan], members: dict[str, list[CellPlan]], caps: dict[Cell, float]
) -> tuple[float, dict[str, float]]:
    """Decide the largest total at which every group reaches its share, and each group's capacity."""
    per_group = {g: group_capacity(members[g], [caps[c.cell] for c in members[g]]) for g in groups}
    return min(per_group[g] / groups[g].share for g in groups), per_group


@dataclass
class _Budget:
    """The total target chosen from the budget, with the caps and capacities it was chosen under."""

    total: float
    capacity: float
    per_group: dict[str, float]
    caps: dict[Cell, float]
    shrunk_from: float | None
    shortfall_msgs: list[str]


def _choose_budget(
    cells: list[CellPlan], groups: dict[str, GroupPlan], members: dict[str, list[CellPlan]],
    cfg: MixtureStageConfig,
) -> _Budget:
    """Decide the total target (``all``, as configured, or shrunk) and the caps that bind it."""
    shortfall_msgs: list[str] = []
    shrunk_from: float | None = None
    if cfg.budget == "all":
        caps = _caps_for(cells, "once")
        total, per_group = _total_capacity(groups, members, caps)
        if not math.isfinite(total):
            total = 0.0
        if total <= 0:
            empty = [g for g in groups if per_group[g] <= 0]
            reasons = [_empty_group_reason(g, members[g], cfg) for g in empty]
            if cfg.on_shortfall != "report":
                raise MixtureShortfall("mixture: nothing to mix with budget 'all': " + "; ".join(reasons))
            shortfall_msgs.extend(reasons)  # report: write empty shards and say why
        capacity = total
    else:
        caps = _caps_for(cells, "epochs")
        capacity, per_group = _total_capacity(groups, members, caps)
        total = float(cfg.budget)
        if capacity + 0.5 < total and cfg.on_shortfall == "shrink":
            shrunk_from, total = total, math.floor(capacity)
            if total <= 0:
                raise MixtureShortfall(
                    "mixture: cannot shrink the budget: "
                    + "; ".join(_empty_group_reason(g, members[g], cfg) for g in groups if per_group[g] <= 0)
                )
    return _Budget(total=total, capacity=capacity, per_group=per_group, caps=caps,
                   shrunk_from=shrunk_from, shortfall_msgs=shortfall_msgs)


def _allocate_group(gp: GroupPlan, mem: list[CellPlan], caps: dict[Cell, float], total: float) -> None:
    """Decide each member cell's target (explicit shares first, the rest water-filled) and the group's shortfall."""
    gp.target = gp.share * total
    tg = gp.target
    missing = 0.0
    for c in mem:
        if c.weight == "share":
            want = (c.share or 0.0) * tg
            c.target = min(want, caps[c.cell])
            missing += want - c.target
    explicit = sum(c.share or 0.0 for c in mem if c.weight == "share")
    nat = [c for c in mem if c.weight == "natural"]
    pool = tg * max(0.0, 1.0 - explicit)
    if nat:
        alloc, rest = water_fill(pool, [c.multiplier * c.available for c in nat], [caps[c.cell] for c in nat])
        for c, a in zip(nat, alloc, strict=True):
            c.target = a
        missing += rest
    else:
        missing += pool
    gp.shortfall = missing if missing > max(0.5, 1e-9 * tg) else 0.0


def _discretise_all(
    cells: list[CellPlan], groups: dict[str, GroupPlan], members: dict[str, list[CellPlan]],
    cums: dict[Cell, _Cums], cap_kind: str | None,
) -> None:
    """Decide every cell's copy counts, carrying each group's rounding error from cell to cell."""
    # Error diffusion inside each group: cells are cut in order of decreasing document size and
    # each cell's rounding error is carried into the next cell's amount, so the group total is
    # exact to within the last (finest-grained) cell's granularity, not the sum of all cells'.
    for c in cells:
        if c.group is None:
            _discretise(c, cums[c.cell], 0.0, cap_kind)
    for g in groups:
        carry = 0.0
        for c in sorted(members[g], key=lambda c: (-(c.available / c.docs if c.docs else 0.0), c.source, c.lang)):
            want = min(max(c.target + carry, 0.0), c.cap) if c.target > 0 else 0.0
            _discretise(c, cums[c.cell], want, cap_kind)
            carry = c.target + carry - c.achieved


def _sum_groups(groups: dict[str, GroupPlan], members: dict[str, list[CellPlan]]) -> None:
    """Decide each group's achieved amounts and its achieved share of the whole mixture."""
    for g, gp in groups.items():
        mem = members[g]
        gp.achieved = sum(c.achieved for c in mem)
        gp.achieved_tokens = sum(c.achieved_tokens for c in mem)
        gp.achieved_chars = sum(c.achieved_chars for c in mem)
        gp.achieved_bytes_est = sum(c.achieved_bytes_est for c in mem)
    grand = sum(gp.achieved for gp in groups.values())
    for gp in groups.values():
        gp.achieved_share = gp.achieved / grand if grand else 0.0


def _num_shards(cells: list[CellPlan], cfg: MixtureStageConfig, shard_target_bytes: int) -> int:
    """Decide the shard count: as configured, or from the estimated bytes rounded up to the multiple."""
    est_bytes = sum(c.achieved_bytes_est for c in cells)
    multiple = cfg.shards.multiple
    if cfg.shards.num_shards == "auto":
        n = max(1, math.ceil(est_bytes / shard_target_bytes))
        n = max(multiple, math.ceil(n / multiple) * multiple)
    else:
        n = int(cfg.shards.num_shards)
    return n


def plan_mixture(
    census: dict[Cell, CellCensus],
    cfg: MixtureStageConfig,
    *,
    seed: int,
    shard_target_bytes: int,
) -> MixturePlan:
    """Deterministic plan from the census and the config (raises :class:`MixtureShortfall`)."""
    cells, excluded, cums = _plan_cells(census, cfg)
    groups, members = _plan_groups(cells, cfg)
    budget = _choose_budget(cells, groups, members, cfg)
    caps, total, shortfall_msgs = budget.caps, budget.total, budget.shortfall_msgs

    cap_kind = "all_used" if cfg.budget == "all" else None
    for c in cells:
        c.cap = caps[c.cell]

    for g, gp in groups.items():
        gp.capacity = budget.per_group[g]
        _allocate_group(gp, members[g], caps, total)
        if gp.shortfall:
            shortfall_msgs.append(_shortfall_message(gp, members[g], caps, cfg))

    if shortfall_msgs and cfg.on_shortfall == "fail":
        raise MixtureShortfall(
            "mixture shortfall (on_shortfall: fail):\n  " + "\n  ".join(shortfall_msgs)
            + f"\n  at most {_fmt(budget.capacity)} {cfg.unit} fit the stated shares under these caps; raise "
            "max_epochs / max_fraction, lower the budget, or set on_shortfall: shrink | report"
        )

    _discretise_all(cells, groups, members, cums, cap_kind)
    _sum_groups(groups, members)
    return MixturePlan(
        seed=seed, unit=cfg.unit, budget=cfg.budget, on_shortfall=cfg.on_shortfall, total_target=total,
        total_capacity=budget.capacity, groups=groups, cells=cells,
        num_shards=_num_shards(cells, cfg, shard_target_bytes),
        shard_target_bytes=shard_target_bytes, shard_multiple=cfg.shards.multiple,
        shrunk_from=budget.shrunk_from, shortfall=shortfall_msgs, excluded_cells=excluded,
    )


def plan_keeping_work(
    census: dict[Cell, CellCensus],
    cfg: MixtureStageConfig,
    *,
    seed: int,
    shard_target_bytes: int,
) -> MixturePlan:
    """:func:`plan_mixture`, except that a shortfall under ``on_shortfall: fail`` does not raise:
    the plan returned is the one ``report`` would make (so the pool is still sharded and the
    report says what each group can give), marked ``failed`` so that no training copy is
    routed, with :func:`feasible_overrides` for a re-mix of the same pool."""
    try:
        return plan_mixture(census, cfg, seed=seed, shard_target_bytes=shard_target_bytes)
    except MixtureShortfall as exc:
        if cfg.on_shortfall != "fail":
            raise
        reason = str(exc)
    plan = plan_mixture(census, cfg.model_copy(update={"on_shortfall": "report"}), seed=seed,
                        shard_target_bytes=shard_target_bytes)
    plan.on_shortfall = "fail"
    plan.failed = [reason]
    plan.feasible_overrides = feasible_overrides(census, cfg, plan, seed=seed,
                                                 shard_target_bytes=shard_target_bytes)
    return plan


def feasible_overrides(census: dict[Cell, CellCensus], cfg: MixtureStageConfig, failed: MixturePlan, *,
                       seed: int, shard_target_bytes: int) -> list[str]:
    """``KEY=VALUE`` overrides (keys relative to the mixture config) under which ``cfg`` plans
    from ``census`` without a shortfall, keeping the shares: the largest budget that fits, and,
    when some group can give nothing, without those groups (the others' shares renormalised).
    Every candidate is checked by planning it; [] when none plans."""
    alive = {g: gp.share for g, gp in failed.groups.items() if gp.capacity and gp.capacity > 0}
    if not alive:
        return []
    overrides: list[str] = []
    trial = cfg
    if len(alive) < len(failed.groups):
        total_share = sum(alive.values())
        names = list(alive)
        shares = {g: round(alive[g] / total_share, 6) for g in names[1:]}
        shares = {names[0]: round(1.0 - sum(shares.values()), 6), **shares}  # sums to 1 as written
        flow = "{" + ", ".join(f"{g}: {shares[g]!r}" for g in names) + "}"
        try:
            trial = MixtureStageConfig.model_validate(
                {**cfg.model_dump(mode="json"), "groups": dict(shares)})
        except ValueError:
            return []
        overrides.append(f"groups={flow}")
    if trial.budget != "all":
        try:
            shrunk = plan_mixture(census, trial.model_copy(update={"on_shortfall": "shrink"}), seed=seed,
                                  shard_target_bytes=shard_target_bytes)
        except (MixtureShortfall, MixtureConfigError):
            return []
        budget = int(shrunk.total_target)
        trial = trial.model_copy(update={"budget": budget})
        overrides.append(f"budget={budget}")
    try:
        plan_mixture(census, trial, seed=seed, shard_target_bytes=shard_target_bytes)
    except (MixtureShortfall, MixtureConfigError):
        return []
    return overrides


def _discretise(c: CellPlan, cums: Any, want: float, cap_kind: str | None) -> None:
    """Turn the cell's amount ``want`` into full copies + an extra-copy bucket boundary."""
    cum_u, cum_t, cum_d, cum_c = cums
    c.rate = c.target / c.available if c.available else 0.0
    if c.group is None or c.usable <= 0 or want <= 0:
        c.full_copies, c.extra_bucket = 0, 0
        c.usable_bucket = c.usable_bucket if c.group is not None else 0
    else:
        max_copies = math.ceil(c.max_epochs - 1e-9)
        k = math.floor(want / c.usable + 1e-12)
        if k >= max_copies:
            k, b_e = max_copies, 0
        else:
            b_e = nearest_boundary(cum_u, want - k * c.usable, c.usable_bucket)
        c.full_copies, c.extra_bucket = k, b_e
    k, b_e, b_p = c.full_copies, c.extra_bucket, c.usable_bucket
    c.achieved = int(k * cum_u[b_p] + cum_u[b_e])
    c.achieved_tokens = int(k * cum_t[b_p] + cum_t[b_e])
    c.achieved_chars = int(k * cum_c[b_p] + cum_c[b_e])
    c.achieved_bytes_est = round(c.achieved_chars * (c.bytes / c.chars)) if c.chars else 0
    docs_p, docs_e = int(cum_d[b_p]), int(cum_d[b_e])
    c.selected_docs = docs_p if k >= 1 else docs_e
    c.copies_total = k * docs_p + docs_e
    hist: dict[int, int] = {}
    if k >= 1:
        hist[k + 1] = docs_e
        hist[k] = docs_p - docs_e
        hist[0] = c.docs - docs_p
    else:
        hist[1] = docs_e
        hist[0] = c.docs - docs_e
    c.copies_hist = {str(n): v for n, v in sorted(hist.items()) if v}
    if c.group is not None and c.target > 0 and c.cap > 0 and c.target >= c.cap * (1 - 1e-9):
        c.binding = cap_kind or ("max_epochs" if c.max_fraction >= 1.0 else "max_epochs x max_fraction")


def _empty_group_reason(g: str, mem: list[CellPlan], cfg: MixtureStageConfig) -> str:
    if not mem:
        return f"group {g!r} has no documents in the pool (no cell with {cfg.group_by} {g!r})"
    return f"group {g!r} has no usable {cfg.unit} (cells: " + ", ".join(
        f"{c.source}/{c.lang}={c.available}" for c in mem) + ")"


def _shortfall_message(gp: GroupPlan, mem: list[CellPlan], caps: dict[Cell, float],
                       cfg: MixtureStageConfig) -> str:
    if not mem:
        return (f"group {gp.name!r} (share {gp.share:g}) needs {_fmt(gp.target)} {cfg.unit} but has no "
                f"documents in the pool (no cell with {cfg.group_by} {gp.name!r})")
    parts = []
    for c in mem:
        parts.append(
            f"{c.source}/{c.lang}: available {_fmt(c.available)}, usable {_fmt(c.usable)} "
            f"(max_fraction={c.max_fraction:g}), cap {_fmt(caps[c.cell])} (max_epochs={c.max_epochs:g})"
            + (" BINDING" if c.target >= caps[c.cell] * (1 - 1e-9) else "")
        )
    return (f"group {gp.name!r} (share {gp.share:g}) needs {_fmt(gp.target)} {cfg.unit} but its sources "
            f"give at most {_fmt(gp.target - gp.shortfall)} (short by {_fmt(gp.shortfall)}): "
            + "; ".join(parts))
