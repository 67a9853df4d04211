"""docker-compose.yml is valid and keeps no password in it."""

from __future__ import annotations

import os
import shutil
import subprocess

import yaml

from tests.conftest import ROOT, need


def _config(**env: str) -> subprocess.CompletedProcess:
    need(shutil.which("docker-compose") is not None, "docker-compose (Debian package docker-compose)")
    return subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"], cwd=ROOT,
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=120)


def test_compose_file_passes_docker_compose_config():
    result = _config(SECRET_KEY="s", POSTGRES_PASSWORD="p")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"web", "worker-gpu", "worker", "redis", "postgres", "flower"}
    flower = services["flower"]
    assert flower["profiles"] == ["ops"] and '--basic-auth="$$FLOWER_BASIC_AUTH"' in flower["command"]
    assert "exit 2" in flower["command"] and flower["restart"].startswith("on-failure:")  # no password, no Flower
    assert [p["host_ip"] if isinstance(p, dict) else p for p in flower["ports"]][0].startswith("127.0.0.1")
    assert "-Q gpu" in services["worker-gpu"]["command"] and "-Q default" in services["worker"]["command"]
    assert services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "cu" in services["worker-gpu"]["build"]["args"]["TORCH_INDEX_URL"]
    assert "--appendonly" in services["redis"]["command"]
    assert all("healthcheck" in s for s in services.values())
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_file_refuses_to_start_without_the_secrets():
    assert _config().returncode != 0
    text = (ROOT / "docker-compose.yml").read_text()
    assert "PASSWORD: colorreview" not in text and "admin-demo" not in text
