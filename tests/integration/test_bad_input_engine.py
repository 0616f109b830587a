"""Invalid numbers at the engine's own boundary (moved here from tests/unit/test_bad_input_forms.py because
it starts an Engine): the facade refuses them before anything reaches a worker."""

from __future__ import annotations

import pytest

MINT = "So11111111111111111111111111111111111111112"


@pytest.mark.slow
def test_engine_sell_position_refuses_bad_percent(zapbot_home):
    from engine.config import load_settings
    from engine.facade import Engine

    settings = load_settings()
    settings.http.enabled = False
    engine = Engine(settings, worker_classes={})
    engine.start(wait_ready=5)
    try:
        for bad in (0, -1, 100.5, float("nan"), float("inf")):
            with pytest.raises(ValueError):
                engine.sell_position(MINT, bad)
    finally:
        engine.stop()
