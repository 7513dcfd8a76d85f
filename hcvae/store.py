"""The store's audit, lock and migration: ``python -m hcvae.store audit|lock|check|migrate|summary``
(:mod:`hcvae.runs.audit`; the store itself is :mod:`hcvae.runs.store`)."""

if __name__ == "__main__":
    import sys

    from hcvae.runs.audit import main

    sys.exit(main())
