"""Learning from reviews, simulated: audited figures before and after a retrain (prints them; not a test).

The catalogue is the audited products of the shared ``val`` split (``benchmarks/golden/val_audit.csv``)
imported with their real tags (``--with-val`` adds the other val apparel products); a share of the tags
is removed (imputations). Suggestions come from the shipped model with the product's thresholds;
simulated reviewers decide up to ``--decisions`` of them, most certain first, knowing the truth (an
audited product's verified colour, else the ``val`` tag; a product without a verified colour is
skipped): accept when the suggestion is right, reject a flag when the tag is right, else correct.
Then the service of ``manage.py retrain`` runs twice, each time judged on one half of the audited set,
whose products it leaves out of training, so that every audited product is judged by a model that did
not learn from it; the figures are pooled over the halves.

Pipeline readings are cached (``COLORREVIEW_FEATURE_CACHE``, default ``var/cache/features``): the first
run reads every image once (600 images; on a busy 2-core CPU that is most of the time), later runs
read none. Suggestions are made from the cached readings with the shipped classifier, which gives the
pipeline's own probabilities; the products a promotion queues again are counted, not read.

    python benchmarks/retrain.py [--decisions 500] [--remove-tags 0.26] [--audit CSV] [--with-val]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fashion-products"))
    ap.add_argument("--audit", default=str(ROOT / "benchmarks" / "golden" / "val_audit.csv"))
    ap.add_argument("--decisions", type=int, default=500)
    ap.add_argument("--remove-tags", type=float, default=0.26, help="share of tags removed (imputations)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many products (quick look)")
    ap.add_argument("--with-val", action="store_true",
                    help="add the val products nobody audited (truth: their tag); about 300 more images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-labels", type=int, default=20, help="COLORREVIEW_RETRAIN_MIN_LABELS for this run")
    ap.add_argument("--warm-only", action="store_true", help="read the images into the cache and stop")
    return ap.parse_args()


def setup(workdir: Path) -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="colorreview.settings", DEBUG="1", LOG_LEVEL="WARNING",
                      COLORREVIEW_VAR_DIR=str(workdir), CELERY_BROKER_URL="")
    os.environ.setdefault("COLORREVIEW_FEATURE_CACHE", str(ROOT / "var" / "cache" / "features"))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def catalogue_rows(args, audit_rows: dict) -> list[dict]:
    """The audited val products (with ``--with-val``, also the other val apparel products whose tag is
    a classifier colour)."""
    from inference.classify.model import DEFAULT_WEIGHTS
    from inference.weights import load_card

    classes = set(load_card(DEFAULT_WEIGHTS)["classes"])
    out = []
    with open(Path(args.data) / "styles.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            image = f"{r['id']}.jpg"
            if r["split"] != "val" or r["masterCategory"] != "Apparel":
                continue
            if image not in audit_rows and (not args.with_val or r["baseColour"] not in classes):
                continue
            if not (Path(args.data) / "images" / image).is_file():
                continue
            audited = audit_rows.get(image)
            truth = (audited.color if audited else r["baseColour"]) or None
            out.append({"sku": r["id"], "image": image, "category": r["articleType"], "tag": r["baseColour"],
                        "truth": truth, "audited": audited is not None})
    return out[:args.limit] if args.limit else out


def import_catalogue(args, rows: list[dict]) -> None:
    from colorreview.services.catalog import import_catalog

    rng = random.Random(args.seed)
    lines = ["sku,title,category,image,seller_color"]
    for r in rows:
        tag = "" if rng.random() < args.remove_tags else r["tag"]
        lines.append(f"{r['sku']},{r['category']} {r['sku']},{r['category']},{r['image']},{tag}")
    import_catalog(csv_bytes=("\n".join(lines) + "\n").encode(), source_name="val.csv",
                   csv_dir=Path(args.data) / "images", images_dir=Path(args.data) / "images")


def predict_from_cache() -> int:
    """Prediction rows (and suggestions) from the cached readings, as the pipeline would store them."""
    from tqdm import tqdm

    from colorreview.models import Prediction, Product
    from colorreview.selectors import TrainingLabel
    from colorreview.services.predictions import current_pipeline, model_version
    from colorreview.services.retrain import _shipped, feature_cache, product_features
    from colorreview.services.suggestions import suggestion_refresh

    shipped, pipeline = _shipped(), current_pipeline()
    version = model_version(pipeline)
    products = list(Product.objects.exclude(image_checksum=""))
    labels = [TrainingLabel(p.pk, "", "catalogue") for p in products]
    with tqdm(total=len(labels), desc="readings", unit="image") as bar:
        features, _ = product_features(pipeline, feature_cache(pipeline, shipped.version), labels, bar.update)
    probs = dict(zip(features.keys, shipped.probabilities(features)))
    for product in products:
        p = probs.get(f"{product.image_checksum}:{product.category}")
        if p is None:
            continue
        order = p.argsort()[::-1]
        top = shipped.classes[order[0]]
        prediction = Prediction.objects.create(
            product=product, image_checksum=product.image_checksum, model_version=version,
            predicted_color=top, confidence=round(float(p[order[0]]), 4),
            family=pipeline.vocabulary.family(top) or "",
            probabilities={shipped.classes[i]: round(float(p[i]), 4) for i in order})
        Product.objects.filter(pk=product.pk).update(status=Product.Status.PREDICTED)
        suggestion_refresh(product=Product.objects.get(pk=product.pk), prediction=prediction)
    return len(probs)


def review(args, rows: list[dict]) -> dict:
    """Simulated reviewers decide the most certain pending suggestions, up to ``--decisions``."""
    from colorreview.models import Suggestion
    from colorreview.services.review import suggestion_accept, suggestion_correct, suggestion_reject
    from colorreview.services.vocabulary import db_vocabulary
    from tests.factories import UserFactory

    truth = {r["sku"]: r["truth"] for r in rows}
    vocabulary = db_vocabulary()
    reviewer = UserFactory(username="reviewer", roles=["admin"])
    counts = {"accepted": 0, "rejected": 0, "corrected": 0, "skipped": 0}
    for s in Suggestion.objects.filter(status="pending").select_related("product", "prediction").order_by("-score"):
        if sum(counts.values()) - counts["skipped"] >= args.decisions:
            break
        right = vocabulary.match(truth.get(s.product.sku) or "")
        tag = s.product.seller_color.name if s.product.seller_color_id else None
        if right is None:
            counts["skipped"] += 1
        elif right == s.suggested_color:
            suggestion_accept(suggestion=s, user=reviewer)
            counts["accepted"] += 1
        elif s.kind == Suggestion.Kind.MISLABEL and right == tag:
            suggestion_reject(suggestion=s, user=reviewer)
            counts["rejected"] += 1
        else:
            suggestion_correct(suggestion=s, user=reviewer, color=right)
            counts["corrected"] += 1
    return counts


def halves(audit_csv: Path, folder: Path) -> list[Path]:
    from inference.evaluate.study import fold_of

    with open(audit_csv, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows, fields = list(reader), reader.fieldnames
    out = []
    for k in (0, 1):
        path = folder / f"audit-half{k}.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fields)
            writer.writeheader()
            writer.writerows(r for r in rows if fold_of(r["image"]) == k)
        out.append(path)
    return out


def pooled(results: list[dict], key: str) -> dict:
    """Figures over both halves: accuracies weighted by verified rows, flags from their counts."""
    figs = [r["figures"][key] for r in results]
    n = sum(f["verified"] for f in figs)
    out = {"verified": n, "exact": sum(f["exact"] * f["verified"] for f in figs) / n,
           "family": sum(f["family"] * f["verified"] for f in figs) / n}
    if all("wrong_tags" in f for f in figs):
        hit = sum(f["flags_on_wrong"] for f in figs)
        false = sum(f["flags_on_confirmed"] for f in figs)
        out.update(wrong_tags=sum(f["wrong_tags"] for f in figs), flags_on_wrong=hit, flags_on_confirmed=false,
                   flags_on_ambiguous=sum(f["flags_on_ambiguous"] for f in figs),
                   mislabel_precision=hit / (hit + false) if hit + false else float("nan"),
                   mislabel_recall=hit / max(1, sum(f["wrong_tags"] for f in figs)))
    return out


def retrain_halves(halves_csv: list[Path]) -> list[dict]:
    from django.conf import settings

    from colorreview.models import ModelVersion, PipelineRun, Product
    from colorreview.services.retrain import model_retrain

    results = []
    for path in halves_csv:
        # each half against the shipped model, with no run left queued by the other half
        ModelVersion.objects.all().delete()
        Product.objects.update(status=Product.Status.PREDICTED, pipeline_run=None)
        PipelineRun.objects.all().delete()
        settings.COLORREVIEW_AUDIT_CSV = path
        started = time.perf_counter()
        version = model_retrain()
        results.append({"half": path.name, "status": version.status, "message": version.message,
                        "labels": version.labels, "requeued": version.requeued, "figures": version.figures,
                        "seconds": time.perf_counter() - started})
    return results


def show(results: list[dict], counts: dict, seconds: dict) -> None:
    print(f"\nreviewers' decisions: {counts}")
    for r in results:
        print(f"{r['half']}: {r['status']} in {r['seconds']:.0f}s, labels {r['labels']}, "
              f"{r['requeued']} products queued again\n  {r['message']}")
    print("\naudited set, each half judged by the model retrained without it (pooled):")
    print(f"{'':8} {'exact':>7} {'family':>7} {'flag P':>7} {'flag R':>7}  flags on wrong/confirmed/ambiguous")
    for key, name in (("before", "before"), ("after", "after")):
        f = pooled(results, key)
        print(f"{name:8} {f['exact']:7.3f} {f['family']:7.3f} {f.get('mislabel_precision', float('nan')):7.3f} "
              f"{f.get('mislabel_recall', float('nan')):7.3f}  {f.get('flags_on_wrong')}/"
              f"{f.get('flags_on_confirmed')}/{f.get('flags_on_ambiguous')} of {f.get('wrong_tags')} wrong tags")
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))


def main() -> None:
    args = parse()
    workdir = Path(tempfile.mkdtemp(prefix="colorreview-retrain-bench-"))
    setup(workdir)
    from django.conf import settings

    from inference.evaluate import audit

    settings.COLORREVIEW_AUDIT_IMAGES = Path(args.data) / "images"
    settings.COLORREVIEW_RETRAIN_MIN_LABELS = args.min_labels
    audit_rows = {r.image: r for r in audit.load_audit(args.audit)}
    rows = catalogue_rows(args, audit_rows)
    print(f"catalogue: {len(rows)} val apparel products, {sum(r['audited'] for r in rows)} audited")
    seconds, t = {}, time.perf_counter()
    import_catalogue(args, rows)
    seconds["import"], t = time.perf_counter() - t, time.perf_counter()
    predict_from_cache()
    seconds["readings"], t = time.perf_counter() - t, time.perf_counter()
    if args.warm_only:
        return
    counts = review(args, rows)
    seconds["reviews"], t = time.perf_counter() - t, time.perf_counter()
    results = retrain_halves(halves(Path(args.audit), workdir))
    seconds["retrains"] = time.perf_counter() - t
    show(results, counts, seconds)


if __name__ == "__main__":
    main()
