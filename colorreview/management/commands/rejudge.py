from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Judge every product's open suggestion again from its latest reading (no image is read again) when the "
            "flag rules (the model card's thresholds, rule, shade families, outside colours, or the settings over "
            "them) changed since they were last applied; with --force, even when they did not. Reviewers' "
            "decisions stay as they are. Pipeline runs do this first on their own.")

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="judge again even when the flag rules are the same")

    def handle(self, *args, force: bool, **opts):
        from ...services import ServiceError
        from ...services.rejudge import suggestions_rejudge_all, suggestions_rejudge_if_changed
        from ...services.runs import checked_model_version

        try:
            checked_model_version()  # the rules are read from the card beside the weights: both must be sound
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        result = suggestions_rejudge_all() if force else suggestions_rejudge_if_changed()
        if result is None:
            self.stdout.write("the flag rules have not changed since they were last applied: nothing to judge "
                              "again (--force judges every product again anyway)")
        else:
            self.stdout.write(self.style.SUCCESS(str(result)))
