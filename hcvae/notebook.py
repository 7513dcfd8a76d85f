"""Rerun a chapter: ``python -m hcvae.notebook NAME -p KEY VALUE`` (:mod:`hcvae.book.notebook`)."""

if __name__ == "__main__":
    import sys

    from hcvae.book.notebook import main

    sys.exit(main())
