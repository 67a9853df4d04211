from __future__ import annotations

import pytest

from colorreview.models import ModelVersion
from colorreview.selectors import shipped_classifier_version

pytestmark = pytest.mark.django_db


def _figures(before: float, after: float) -> dict:
    return {"evaluation": "audited set", "n": 515,
            "before": {"exact": before, "family": 0.87, "mislabel_precision": 0.52, "mislabel_recall": 0.2},
            "after": {"exact": after, "family": 0.88, "mislabel_precision": 0.6, "mislabel_recall": 0.25}}


def test_the_dashboard_lists_model_versions_with_audited_figures_and_the_one_in_use(client, curator, tmp_path):
    ModelVersion.objects.create(version="colornet-old", base_version="other", status="refused",
                                figures=_figures(0.837, 0.801), labels={"reviewed": 60, "catalogue": 400},
                                message="refused: worse on the audited set")
    ModelVersion.objects.create(version="colornet-new", base_version=shipped_classifier_version(),
                                status="promoted", weights_dir=str(tmp_path), figures=_figures(0.837, 0.855),
                                labels={"reviewed": 120, "catalogue": 800})
    client.force_login(curator)
    page = client.get("/").content.decode()
    section = page[page.index('id="model-versions"'):]
    assert "In use now: <strong>colornet-new</strong>" in section
    assert "colornet-new</code> <span class=\"badge\">in use</span>" in section
    assert "83.7% → 85.5%" in section and "83.7% → 80.1%" in section  # exact, each way
    assert "52.0% → 60.0%" in section and "20.0% → 25.0%" in section  # real-mislabel precision, recall
    assert "refused (worse)" in section and "120 reviewed, 800 tags" in section


def test_a_promoted_version_of_other_shipped_weights_is_not_in_use(client, curator, tmp_path):
    ModelVersion.objects.create(version="colornet-stale", base_version="colornet-00000000-t1.000",
                                status="promoted", weights_dir=str(tmp_path), figures=_figures(0.8, 0.81))
    client.force_login(curator)
    assert "In use now: the shipped weights" in client.get("/").content.decode()
