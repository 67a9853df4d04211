from __future__ import annotations

import pytest


@pytest.fixture
def published(monkeypatch):
    """Batches handed to the broker, without a broker."""
    sent = []
    monkeypatch.setattr("colorreview.tasks.predict_products.apply_async",
                        lambda args, **kw: sent.append(tuple(args)))
    return sent
