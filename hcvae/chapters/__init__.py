"""One module per chapter that computes what the chapter shows, from stored runs, and the ledger's types
(:mod:`hcvae.chapters.ledger`). Imports runs, methods and core."""
