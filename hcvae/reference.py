"""The shipped reference: ``python -m hcvae.reference record|coverage|reproduce|diff|info``
(:mod:`hcvae.book.reference`)."""

if __name__ == "__main__":
    import sys

    from hcvae.book.reference import main

    sys.exit(main())
