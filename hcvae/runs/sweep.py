"""Parameter sweeps on Dask: the same sweep on this machine or on a cluster.

A sweep is a list of experiment configs. :func:`run_sweep` sends each one to a
Dask worker as ``runner.run(config, store)``; the result store gives caching
and resume for free: points already stored are read, not sent, so re-running a
half-finished sweep computes only the missing ones. A point that fails is
reported with its config and error and does not stop the others.

* ``scheduler=None``: a ``LocalCluster`` of ``n_workers`` processes, one thread each.
* ``scheduler="tcp://host:8786"``: any running Dask scheduler (started by hand,
  on SLURM with dask-jobqueue, on Kubernetes...). The workers must see the same
  result-store folder (a shared file system) and have hcvae installed.

Grid files (TOML) describe a sweep without code::

    kind = "hct"              # vae | hct | spherical | baseline | diffusion
    profile = "quick"         # optional: start from the profile's settings ("paper" too)
    dataset = "synthetic"     # required with a profile

    [fixed]                   # optional: the same value at every point
    sigma2_ratio = 2.0

    [grid]                    # every combination of these lists
    r0 = [2, 4, 8, 16]
    reading = ["min_k", "own_centre"]
    seed = [0, 1]

Command line: ``python -m hcvae.sweep GRID_FILE [--scheduler ADDRESS] [--workers N] [--dry-run]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import re
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hcvae.core import device
from hcvae.core.train import progress_enabled
from hcvae.core.validation import check_choice
from hcvae.runs.kinds import KINDS as _KINDS
from hcvae.runs.runner import run, run_stack, stack_groups
from hcvae.runs.store import ResultStore, kind_class, log_request

# the kinds of config a grid may sweep: every stored kind
KINDS = tuple(sorted(_KINDS))
_TOP_KEYS = {"kind", "profile", "dataset", "fixed", "grid", "description"}
CONNECT_TIMEOUT_S = 5


class GridError(ValueError):
    """A grid file that cannot describe a sweep; the message names the file, the line and the parameter."""


def config_class(kind: str):
    check_choice("kind", kind, KINDS)
    return kind_class(kind)


def _line_of(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return i
    return None


def _where(path, text, key) -> str:
    line = _line_of(text, key)
    return f"{path}, line {line}" if line else str(path)


def load_grid(path, **overrides) -> list:
    """The configs of a grid file, every one validated before anything runs.

    ``overrides`` replace top-level entries (e.g. ``profile="paper"``). Raises
    :class:`GridError` naming the line and the parameter for a file that does not
    parse, an unknown kind or parameter, or a value a config rejects.
    """
    path = Path(path)
    if not path.exists():
        raise GridError(f"grid file {path} does not exist")
    text = path.read_text()
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise GridError(f"{path} does not parse as TOML: {err}") from None
    spec.update(overrides)
    unknown = set(spec) - _TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise GridError(f"{_where(path, text, key)}: unknown top-level entry {key!r}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    try:
        cls = config_class(spec.get("kind", ""))
    except ValueError as err:
        raise GridError(f"{_where(path, text, 'kind')}: {err}") from None
    fixed, grid = spec.get("fixed", {}), spec.get("grid", {})
    if not isinstance(fixed, dict) or not isinstance(grid, dict):
        raise GridError(f"{path}: [fixed] and [grid] must be tables")
    names = {f.name for f in dataclasses.fields(cls)}
    for key in [*fixed, *grid]:
        if key not in names:
            raise GridError(f"{_where(path, text, key)}: unknown parameter {key!r} for kind {spec['kind']!r}; "
                            f"allowed: {', '.join(sorted(names))}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{_where(path, text, key)}: grid parameter {key!r} must be a non-empty list of values")
    profile, dataset = spec.get("profile"), spec.get("dataset")
    if profile is not None and dataset is None:
        raise GridError(f"{_where(path, text, 'profile')}: a grid with a profile needs a dataset")
    configs = []
    for combo in itertools.product(*grid.values()):
        params = {**fixed, **dict(zip(grid, combo))}
        if dataset is not None and profile is None:
            params.setdefault("dataset", dataset)
        try:
            if profile is not None:
                configs.append(cls.from_profile(profile, dataset, **params))
            else:
                configs.append(cls(**params))
        except (ValueError, TypeError) as err:
            named = [k for k in [*params, *sorted(names)] if re.search(rf"\b{re.escape(k)}\b", str(err), re.I)]
            bad = named[0] if named else None
            where = _where(path, text, bad) if bad else str(path)
            source = "" if bad in params else " (a default or profile value)"
            raise GridError(f"{where}: parameter {bad or '?'}{source} — {err} (at the point {params})") from None
    return configs


@dataclass
class SweepResult:
    """What a sweep returns: one entry per config, in order (None where the point failed)."""

    configs: list
    results: list
    failures: list = field(default_factory=list)  # dicts: index, config, error
    n_cached: int = 0
    n_computed: int = 0
    wall_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def _run_point(config, store_root: str, reference: str | None = None, on: str | None = None):
    """One point, on a worker: the shared store and the same reference layer (or none) and device as the caller's."""

    try:
        return run(config, store=ResultStore(store_root, reference=reference or None), progress=False, on=on)
    finally:
        shutdown_process_pools()


def _run_stack(configs, store_root: str, reference: str | None = None, on: str | None = None) -> list:
    """Points that train in one stack, on a worker (see :func:`hcvae.runs.runner.run_stack`)."""

    return run_stack(configs, store=ResultStore(store_root, reference=reference or None), progress=False, on=on)


def shutdown_process_pools() -> None:
    """Stop joblib's reusable worker processes (the EM fits' pool) now rather than after their 300 s idle timeout,
    so a finished sweep leaves no process behind."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def _client(scheduler, n_workers: int):
    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        # Non-daemon workers may start processes, so the EM fits inside a run take the same joblib path, with the
        # same numbers, as outside Dask. run_sweep keeps this setting for the cluster's whole life, so a worker the
        # nanny restarts after a crash comes back non-daemonic too. (Workers of a remote cluster are the user's:
        # joblib there falls back to n_jobs = 1; the EM fits give the same numbers either way.)
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s"), None
    except (OSError, TimeoutError) as err:
        raise ConnectionError(f"could not reach the Dask scheduler at {scheduler!r} within {CONNECT_TIMEOUT_S} s ({err}); "
                              "check the address, or pass scheduler=None for a local cluster") from None


def run_sweep(configs, store: ResultStore | None = None, scheduler: str | None = None, n_workers: int | None = None,
              progress: bool | None = None, on: str | None = None) -> SweepResult:
    """Run every config on Dask workers (stored points are read, not run) and gather the results in order; ``on``
    names the workers' device (default ``$HCVAE_DEVICE``, else the CPU), checked here first."""

    on = str(device.resolve(on))
    configs = list(configs)
    for i, c in enumerate(configs):
        if not callable(getattr(c, "compute", None)):
            raise TypeError(f"configs[{i}] is a {type(c).__name__}, not an experiment config with compute()")
    n_workers = n_workers if n_workers is not None else min(2, os.cpu_count() or 1)
    if int(n_workers) != n_workers or n_workers < 1:
        raise ValueError(f"n_workers must be an integer >= 1; got {n_workers!r}")
    store = store if store is not None else ResultStore()
    start = time.perf_counter()

    found = [store.lookup(c) for c in configs]
    for c, (result, source) in zip(configs, found):
        if result is not None:
            log_request(c, source, nested=False)
    out = SweepResult(configs, [result for result, _ in found])
    todo = [i for i, r in enumerate(out.results) if r is None]
    out.n_cached = len(configs) - len(todo)
    if todo:
        import dask
        import distributed  # noqa: F401  (its config defaults must be loaded before the set() below restores them)

        with dask.config.set({"distributed.worker.daemon": False}):
            _run_todo(configs, todo, out, store, scheduler, int(n_workers), progress, on)
    shutdown_process_pools()
    out.wall_time_s = time.perf_counter() - start
    return out


def _run_todo(configs, todo, out, store, scheduler, n_workers: int, progress, on: str) -> None:
    """Send the missing points to the workers, gather each result or failure into ``out`` as it arrives."""
    from dask.distributed import as_completed


    client, cluster = _client(scheduler, n_workers)
    bar = None
    try:
        reference = str(store.reference) if store.reference is not None else None
        # configs that train in one stack go to one worker together; every other point alone
        at: dict = {}
        for i in todo:
            at.setdefault(configs[i], []).append(i)
        grouped = stack_groups(list(at))
        alone = [c for c in at if not any(c in g for g in grouped)]
        futures = {client.submit(_run_stack, g, str(store.root), reference, on, pure=False): g for g in grouped}
        futures.update({client.submit(_run_point, c, str(store.root), reference, on, pure=False): [c] for c in alone})
        if progress_enabled(progress):
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc="sweep", unit="point")
        for future in as_completed(futures):
            members = [i for c in futures[future] for i in at[c]]
            if future.status == "finished":
                got = future.result()
                for c, r in zip(futures[future], got if isinstance(got, list) else [got]):
                    for i in at[c]:
                        out.results[i] = r
                out.n_computed += len(members)
            else:
                err = future.exception()
                out.failures += [{"index": i, "config": configs[i], "error": f"{type(err).__name__}: {err}"}
                                 for i in members]
            if bar is not None:
                bar.update(len(members))
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hcvae.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("grid", help="a TOML grid file (see the module docstring)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=None, help="local workers (default: 2 or the number of cores)")
    parser.add_argument("--profile", default=None, help="override the grid's profile (quick or paper)")
    parser.add_argument("--dry-run", action="store_true", help="list the points and which are stored; run nothing")
    parser.add_argument("--device", default=None, help="cpu (default, or $HCVAE_DEVICE), cuda, cuda:N or mps")
    args = parser.parse_args(argv)

    try:
        device.resolve(args.device)
    except (ValueError, device.DeviceError) as err:
        parser.error(str(err))
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be an integer >= 1; got {args.workers}")
    try:
        configs = load_grid(args.grid, **({"profile": args.profile} if args.profile else {}))
    except GridError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    store = ResultStore()
    if args.dry_run:
        for c in configs:
            print("stored " if store.load(c) is not None else "missing", c)
        return 0
    try:
        res = run_sweep(configs, store=store, scheduler=args.scheduler, n_workers=args.workers, on=args.device)
    except ConnectionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        stored = sum(store.load(c) is not None for c in configs)
        again = " ".join(["python -m hcvae.sweep", *(argv if argv is not None else sys.argv[1:])])
        print(f"\ninterrupted: {stored} of {len(configs)} points are stored; `{again}` resumes", file=sys.stderr)
        return 130
    print(f"{len(configs)} points: {res.n_cached} stored, {res.n_computed} computed, {len(res.failures)} failed "
          f"({res.wall_time_s:.1f} s)")
    for f in res.failures:
        print(f"FAILED point {f['index']}: {f['config']}\n  {f['error']}", file=sys.stderr)
    return 1 if res.failures else 0


if __name__ == "__main__":
    sys.exit(main())
