from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from ...roles import ROLES


class Command(BaseCommand):
    help = "Give a user a ColorReview role (curator, merchandiser or admin), or take it away with --remove."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=ROLES)
        parser.add_argument("--remove", action="store_true", help="take the role away")

    def handle(self, *args, username: str, role: str, remove: bool, **opts):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r} (create one with `python manage.py createsuperuser` "
                               "or in the Django admin)")
        group = Group.objects.get(name=role)
        if remove:
            user.groups.remove(group)
        else:
            user.groups.add(group)
        if role == "admin":  # the admin role includes the Django admin pages
            user.is_staff = not remove or user.is_superuser
            user.save(update_fields=["is_staff"])
        held = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser and "admin" not in held:
            held.append("admin (superuser)")
        self.stdout.write(f"{username}: {', '.join(held) or 'no role'}")
