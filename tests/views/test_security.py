"""Safe to put online: production settings, sign-in lockout, API throttles, CSP, redirects, roles."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.views.defaults import server_error
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from colorreview.models import Suggestion
from tests.conftest import ROOT
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _manage(*args, env: dict, tmp_path) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "colorreview.settings",
            "COLORREVIEW_VAR_DIR": str(tmp_path / "var")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_the_documented_production_settings_pass_check_deploy(tmp_path):
    production = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "reviews.example.com",
                  "COLORREVIEW_HTTPS": "1", "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"}
    ok = _manage("check", "--deploy", "--fail-level", "WARNING", env=production, tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    plain_http = _manage("check", "--deploy", "--fail-level", "WARNING",
                         env={**production, "COLORREVIEW_HTTPS": "0"}, tmp_path=tmp_path)
    assert plain_http.returncode != 0 and "SECURE_HSTS_SECONDS" in plain_http.stderr + plain_http.stdout


def test_commands_in_a_new_shell_use_the_key_kept_in_var(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("k" * 20 + secrets.token_urlsafe(40) + "\n")
    shown = _manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)",
                    env={"DEBUG": "0"}, tmp_path=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == (tmp_path / "var" / "secret_key").read_text().strip()
    (tmp_path / "var" / "secret_key").unlink()
    refused = _manage("check", env={"DEBUG": "0"}, tmp_path=tmp_path)
    assert refused.returncode != 0 and "SECRET_KEY is the built-in default" in refused.stderr


def test_sign_ins_are_locked_out_after_repeated_failures(client, settings):
    UserFactory(username="victim", password="right-password", roles=["curator"])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/login/", {"username": "victim", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
        assert response.status_code in (200, 429)
    locked = client.post("/login/", {"username": "victim", "password": "right-password"}, REMOTE_ADDR="203.0.113.9")
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert f"Wait {settings.AXES_COOLOFF_TIME.seconds // 60} minutes and try again".encode() in locked.content
    assert "_auth_user_id" not in client.session
    call_command("axes_reset_username", "victim")
    unlocked = client.post("/login/", {"username": "victim", "password": "right-password"}, REMOTE_ADDR="203.0.113.9")
    assert unlocked.status_code == 302 and client.session["_auth_user_id"]


def test_the_api_throttles_a_busy_caller(curator, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": "3/minute"})
    cache.clear()
    api = APIClient()
    api.force_authenticate(curator)
    statuses = [api.get("/api/products/").status_code for _ in range(4)]
    cache.clear()
    assert statuses == [200, 200, 200, 429]


def test_pages_carry_a_content_security_policy_without_inline_scripts(client, curator):
    client.force_login(curator)
    policy = client.get("/review/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and "unsafe" not in directives["style-src"]
    html = client.get("/review/").content.decode()
    assert "<script>" not in html and " onclick=" not in html and " onchange=" not in html


def test_a_plain_form_decision_never_redirects_off_site(client, curator):
    s = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag="Red"), predicted_color="Blue"))
    client.force_login(curator)
    response = client.post(f"/review/{s.pk}/accept/", HTTP_REFERER="https://evil.example/phish")
    assert response.status_code == 302 and response["Location"] == "/review/"
    assert Suggestion.objects.get(pk=s.pk).status == "accepted"


def test_seed_demo_refuses_production_settings(settings):
    settings.COLORREVIEW_HTTPS = True
    with pytest.raises(CommandError, match="createsuperuser"):
        call_command("seed_demo", "--no-catalog")
    assert not User.objects.filter(username="admin").exists()


def test_seed_demo_prints_the_logins_once_when_asked(capsys):
    call_command("seed_demo", "--no-catalog", "--no-logins", "--allow-outside-demo")
    assert "logins" not in capsys.readouterr().out and User.objects.filter(username="curator").exists()
    call_command("seed_demo", "--print-logins")
    assert capsys.readouterr().out.count("curator-demo") == 1


def test_assign_role_gives_and_takes_roles(capsys):
    user = User.objects.create_user("rita", password="pw")
    call_command("assign_role", "rita", "admin")
    user.refresh_from_db()
    assert list(user.groups.values_list("name", flat=True)) == ["admin"] and user.is_staff
    call_command("assign_role", "rita", "curator")
    call_command("assign_role", "rita", "admin", "--remove")
    user.refresh_from_db()
    assert list(user.groups.values_list("name", flat=True)) == ["curator"] and not user.is_staff
    assert capsys.readouterr().out.strip().splitlines()[-1] == "rita: curator"
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("assign_role", "nobody", "curator")


def test_missing_pages_and_server_errors_have_styled_pages(client, curator, settings):
    client.force_login(curator)
    missing = client.get("/products/NO-SUCH-SKU/")
    assert missing.status_code == 404 and b'id="not-found"' in missing.content and b"app.css" in missing.content
    failed = server_error(RequestFactory().get("/"))
    assert failed.status_code == 500 and b'id="server-error"' in failed.content
