import os

import pytest

# Unit tests never draw progress bars and never touch the repository's result store or its shipped reference
# (a test that needs a reference makes its own).
os.environ.setdefault("HCVAE_PROGRESS", "0")
os.environ.setdefault("HCVAE_REFERENCE", "")


@pytest.fixture
def store(tmp_path):
    from hcvae.store import ResultStore

    return ResultStore(tmp_path / "results")
