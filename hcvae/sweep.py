"""Run a grid file on Dask: ``python -m hcvae.sweep GRID`` (:mod:`hcvae.runs.sweep`)."""

if __name__ == "__main__":
    import sys

    from hcvae.runs.sweep import main

    sys.exit(main())
