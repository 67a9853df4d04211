from __future__ import annotations

import pytest


class Published(list):
    """``(ids, run_id)`` of each batch handed to the broker; ``batch_ids``: the range of a catalogue run
    each one reads (``RunBatch``), or None."""

    def __init__(self):
        super().__init__()
        self.batch_ids: list[int | None] = []

    def deliveries(self) -> list[dict]:
        """Each batch as the keyword arguments of ``predict_products``."""
        return [{"product_ids": ids, "run_id": run_id, "batch_id": batch_id}
                for (ids, run_id), batch_id in zip(self, self.batch_ids)]


@pytest.fixture
def published(monkeypatch):
    """Batches handed to the broker, without a broker."""
    sent = Published()

    def apply_async(args, **kw):
        sent.append(tuple(args))
        sent.batch_ids.append((kw.get("kwargs") or {}).get("batch_id"))

    monkeypatch.setattr("colorreview.tasks.predict_products.apply_async", apply_async)
    return sent
