"""The nginx stack, started once for every nginx test module and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .nginx_stack import Stack, run_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """nginx (README blocks and legacy ones) → otpgate serve + echo upstream."""
    yield from run_stack(tmp_path_factory)
