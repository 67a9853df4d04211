from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from ...models import Product
from ...roles import ROLES
from ...services.runs import catalog_import_and_queue, embedded_queue

DEMO_DIR = Path(settings.BASE_DIR) / "demo"


class Command(BaseCommand):
    help = "Create the demo logins (one per role) and import the bundled demo catalogue."

    def add_arguments(self, parser):
        parser.add_argument("--no-catalog", action="store_true")
        parser.add_argument("--reset-passwords", action="store_true")
        parser.add_argument("--print-logins", action="store_true",
                            help="only print the demo logins (as configured) and exit")
        parser.add_argument("--no-logins", action="store_true",
                            help="do not print the logins (scripts/run.sh prints them once, at the end)")
        parser.add_argument("--allow-outside-demo", action="store_true",
                            help="create the demo logins even with production settings (never on a public site)")

    def handle(self, *args, **opts):
        if opts["print_logins"]:
            self.stdout.write("demo logins (user / password):")
            for role in (*ROLES, "outsider"):
                self.stdout.write(f"  {role:13s} {_password(role)}")
            return
        if not (opts["allow_outside_demo"] or _is_demo_setup()):
            raise CommandError(
                "seed_demo creates logins whose passwords are published; it runs only on the embedded demo setup "
                "(SQLite, no HTTPS settings). For a real site: `python manage.py createsuperuser`, then "
                "`python manage.py assign_role USERNAME curator|merchandiser|admin`.")
        logins = []
        for role in (*ROLES, "outsider"):
            password = _password(role)
            user, created = User.objects.get_or_create(username=role, defaults={"email": f"{role}@example.com"})
            if created or opts["reset_passwords"]:
                user.set_password(password)
                user.is_staff = role == "admin"
                user.is_superuser = role == "admin"
                user.save()
            if role in ROLES:
                user.groups.add(Group.objects.get(name=role))
            logins.append((role, password if created or opts["reset_passwords"] else "(unchanged)"))
        if not opts["no_catalog"] and not Product.objects.filter(sku__startswith="DEMO-").exists():
            report, _ = catalog_import_and_queue(
                queue=not embedded_queue(), csv_bytes=(DEMO_DIR / "catalog.csv").read_bytes(),
                source_name="demo/catalog.csv", csv_dir=DEMO_DIR)
            self.stdout.write(f"demo catalogue: {report.summary()}")
            for problem in report.problems:
                self.stdout.write(f"  {problem}")
        if opts["no_logins"]:
            return
        self.stdout.write("logins (user / password):")
        for role, password in logins:
            self.stdout.write(f"  {role:13s} {password}")


def _password(role: str) -> str:
    return os.environ.get(f"COLORREVIEW_DEMO_{role.upper()}_PASSWORD", f"{role}-demo")


def _is_demo_setup() -> bool:
    """The embedded defaults of scripts/run.sh: SQLite and no HTTPS settings."""
    return settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and not settings.COLORREVIEW_HTTPS
