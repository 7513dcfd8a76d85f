"""The verdict rules of the diffusion chapter (v1 §7.4), fixed before the runs: where the denoiser's estimate
of x_0 stops depending on x_t, and when one model's samples are better than another's or degrade; and how the
chapter's verdicts, per reading of t_c, become the claims ledger's."""

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


# ---- the ledger's verdicts, per reading of t_c -----------------------------------------------------------------

READINGS = ("eq13", "snr")  # t_c by v1 eq. 13 as written, and where the SNR along the top direction is 1
P3_BASELINES = ("DDPM, timestep", "DDPM, t + noise level")  # prediction 3 compares Algorithm 2 with these

# The chapter's verdicts in the ledger's terms (claims.VERDICTS).
LEDGER_VERDICT = {"supported": "reproduced", "not supported": "not reproduced", "contradicted": "not reproduced",
                  "mixed": "not reproduced"}


def distances(half: int, t13, tsnr) -> dict:
    """{reading: |t where the recovered share halves − that reading's t_c|}, for the readings with a t_c."""
    return {r: abs(half - t) for r, t in (("eq13", t13), ("snr", tsnr)) if t is not None}


def p1_by_reading(by_reading: dict) -> dict:
    """Prediction 1 per reading of t_c (``by_reading``: reading -> the verdicts of the data sets that have that
    t_c): reproduced when the share stays below the tolerance from t_c on for every one of them; not testable when
    no data set has one."""
    out = {}
    for reading, verdicts in by_reading.items():
        out[reading] = ("not testable here" if not verdicts else
                        "reproduced" if all(v == "independent after t_c" for v in verdicts) else "not reproduced")
    return out


def p2_by_reading(half_rows: list, n_half: int) -> dict:
    """Prediction 2 per reading of t_c: reproduced when that reading's t_c is the nearer one to where the recovered
    share halves on every data set where it halves (a reading without a t_c there is not the nearer).
    ``half_rows``: (data set, where the share halves or None, eq. 13's t_c, the SNR = 1 t_c)."""
    out = {}
    for reading in READINGS:
        if not n_half:
            out[reading] = "not testable here"
            continue
        nearer = []
        for _, half, t13, tsnr in half_rows:
            if half is None:
                continue
            dist = distances(half, t13, tsnr)
            nearer.append(reading in dist and dist[reading] <= min(dist.values()))
        out[reading] = "reproduced" if all(nearer) else "not reproduced"
    return out


def combine_readings(per: dict) -> str:
    """One verdict from the per-reading ones: the paper's own t_c (eq. 13) first; "depends on reading" when the
    claim holds only with the SNR = 1 timestep."""
    if per["eq13"] == "reproduced":
        return "reproduced"
    if per["snr"] == "reproduced":
        return "depends on reading"
    return "not reproduced" if "not reproduced" in per.values() else "not testable here"
