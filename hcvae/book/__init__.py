"""The book around the chapters: the claims ledger, every figure, the explorers, declared chapter parameters,
the rerun command line and the shipped reference. The top layer: nothing in hcvae imports it."""
