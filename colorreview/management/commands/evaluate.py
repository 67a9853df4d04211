from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from ...services.evaluation import reviewed_evaluation


class Command(BaseCommand):
    help = ("Judge the suggestions by the reviewers' decisions: acceptance (precision) per kind, and the "
            "classifier's accuracy, AP and ROC AUC against the reviewed colours.")

    def add_arguments(self, parser):
        parser.add_argument("--model-version", default=None, help="only suggestions of this model version")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **opts):
        result = reviewed_evaluation(opts["model_version"])
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=1, default=float))
            return
        self.stdout.write(f"{result['reviewed']} reviewed suggestions")
        for kind, k in result["kinds"].items():
            if not k["decided"]:
                self.stdout.write(f"  {kind:9s} none decided yet")
                continue
            flags = f"flags right (tag wrong) {k['tag_wrong']:.3f}; " if kind == "mislabel" else ""
            self.stdout.write(f"  {kind:9s} {k['decided']} decided: {k['accepted']} accepted, {k['corrected']} "
                              f"corrected, {k['rejected']} rejected; {flags}suggested colour taken "
                              f"{k['precision']:.3f} (same colour family {k['family_precision']:.3f})")
        c = result.get("classifier")
        if c:
            self.stdout.write(f"  classifier vs reviewed colours: accuracy {c['accuracy']:.3f}, family accuracy "
                              f"{c['family_accuracy']:.3f}, macro AP {c['macro_average_precision']:.3f}, "
                              f"macro ROC AUC {c['macro_roc_auc']:.3f}, misclassification rate "
                              f"{c['misclassification_rate']:.3f}")
