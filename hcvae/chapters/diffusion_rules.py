"""The verdict rules of the diffusion chapter (v1 §7.4), fixed before the runs: where the denoiser's estimate
of x_0 stops depending on x_t, and when one model's samples are better than another's or degrade."""

from __future__ import annotations

import numpy as np



def gain_at(curve: dict, t: int | None, key: str = "info") -> float | None:
    """The measured ``curve[key]`` at timestep ``t`` (linear interpolation between measured timesteps)."""
    if t is None:
        return None
    return float(np.interp(t, curve["t"], curve[key]))


def first_below(curve: dict, level: float, key: str = "info") -> int | None:
    """The first measured timestep whose ``curve[key]`` is below ``level``, or None."""
    below = np.flatnonzero(np.asarray(curve[key]) < level)
    return int(curve["t"][below[0]]) if below.size else None


def independence_verdict(curve: dict, t_c: int | None, tol: float, key: str = "info") -> dict:
    """Prediction 1 (v1 §7.4): for t > t_c the reverse process is independent of x_t.

    Read on the x_0 estimate's dependence on x_t (``key`` of :func:`x0_gain`, default the recovered share
    ``info``): supported when it is below ``tol`` at every measured t >= t_c.
    Returns the verdict, the gain at t_c, the largest gain from t_c on, and where the gain first drops below ``tol``.
    """
    out = {"t_c": t_c, "gain_at_t_c": gain_at(curve, t_c, key), "t_below_tol": first_below(curve, tol, key)}
    if t_c is None:
        return {**out, "max_gain_after": None, "verdict": "no t_c"}
    after = np.asarray(curve[key])[np.asarray(curve["t"]) >= t_c]
    out["max_gain_after"] = float(max(after.max(initial=-np.inf), out["gain_at_t_c"]))
    out["verdict"] = "independent after t_c" if out["max_gain_after"] < tol else "still depends on x_t after t_c"
    return out


def compare_verdict(value: float, baseline: float, margin: float, higher_is_better: bool = True) -> str:
    """``better``, ``worse`` or ``no measurable difference`` (|value - baseline| <= margin), for ``value``."""
    diff = (value - baseline) if higher_is_better else (baseline - value)
    if abs(diff) <= margin:
        return "no measurable difference"
    return "better" if diff > 0 else "worse"


def overall_verdict(verdicts) -> str:
    """``supported`` if every comparison came out ``better``, ``contradicted`` if some came out ``worse``
    and none ``better``, ``not supported`` if none differed measurably, else ``mixed``."""
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("verdicts must not be empty")
    if all(v == "better" for v in verdicts):
        return "supported"
    if "better" not in verdicts:
        return "contradicted" if "worse" in verdicts else "not supported"
    return "mixed"


def transfer_degradation(values: dict, own: str, margin) -> dict:
    """How much worse sampling gets with schedules other than ``own`` (prediction 4).

    ``values`` maps a sampling schedule's name to a quality measure where lower is better (sliced
    energy distance, two-sample accuracy); ``margin`` is how much worse than ``own`` still counts as
    no change, one number or one per schedule. Returns the worst other schedule, its excess over
    ``own``, and whether any schedule exceeds its margin.
    """
    others = {k: v for k, v in values.items() if k != own}
    if own not in values or not others:
        raise ValueError(f"values must hold the own schedule {own!r} and at least one other; got {list(values)}")
    margins = margin if isinstance(margin, dict) else {k: margin for k in others}
    worst = max(others, key=others.get)
    excess = others[worst] - values[own]
    return {"own": own, "own_value": values[own], "worst": worst, "worst_value": others[worst], "excess": excess,
            "degrades": any(v - values[own] > margins[k] for k, v in others.items())}
