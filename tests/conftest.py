import os

import pytest

# Unit tests never draw progress bars and never touch the repository's result store.
os.environ.setdefault("HCVAE_PROGRESS", "0")


@pytest.fixture
def store(tmp_path):
    from hcvae.store import ResultStore

    return ResultStore(tmp_path / "results")
