"""How ColorReview holds up at catalogue scale, on PostgreSQL. Prints figures; asserts nothing.

    python benchmarks/scale.py --products 1000000      # the default
    python benchmarks/scale.py --products 100000 --import-rows 20000

It (re)creates the database named in --database-url (default cr_bench on the local server), imports the
first --import-rows products through the real import path (a CSV and tiny generated images), adds the rest
as generated rows shaped like imported ones, predicts a sample with a no-op pipeline through the worker's
storage path and the rest by SQL (about 30% of products end with an open suggestion), then measures what
users do: pages and API lists (server time in this process, p50/p95, SQL queries), a decision, starting a
run, bulk approval, and the export (in a separate process: time and peak RSS).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

CATEGORIES = ["Tshirts", "Shirts", "Tops", "Kurtas", "Jeans", "Trousers", "Shorts", "Dresses", "Skirts",
              "Sweatshirts", "Jackets", "Sweaters", "Track Pants", "Leggings", "Tunics", "Capris", "Blazers",
              "Waistcoat", "Jumpsuit", "Kurta Sets", "Lounge Pants", "Night suits", "Shrug", "Rain Jacket"]
WORDS = ["Men", "Women", "Boys", "Girls", "Solid", "Printed", "Striped", "Slim Fit", "Regular", "Cotton",
         "Casual", "Formal", "Polo", "Checked", "Washed", "Linen", "Round Neck", "Hooded"]


def options() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--products", type=int, default=1_000_000)
    p.add_argument("--import-rows", type=int, default=100_000, help="products that go through the real import")
    p.add_argument("--images", type=int, default=2000, help="distinct generated images")
    p.add_argument("--stored-sample", type=int, default=20_000, help="products stored through the worker path")
    p.add_argument("--requests", type=int, default=30, help="timed requests per page")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cr_bench")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/7",
                   help="a Redis to time the publishing of a run's batches on (a queue of its own, emptied after)")
    p.add_argument("--workdir", default=None, help="where the CSV, images and media go (default: a temp dir)")
    return p.parse_args()


def configure(args: argparse.Namespace, work: Path) -> None:
    os.environ.update({
        "DATABASE_URL": args.database_url, "SECRET_KEY": "scale-benchmark", "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "colorreview.settings", "COLORREVIEW_VAR_DIR": str(work / "var"),
        "MEDIA_ROOT": str(work / "media"), "CELERY_BROKER_URL": "memory://", "LOG_LEVEL": "ERROR",
        "COLORREVIEW_IMPUTE_THRESHOLD": "0.8", "COLORREVIEW_MISLABEL_THRESHOLD": "0.9",
        "COLORREVIEW_SUMMARY_SECONDS": "3600", "COLORREVIEW_API_USER_RATE": "100000/minute",
        "COLORREVIEW_BULK_INLINE": "0",
    })
    recreate_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def recreate_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Report:
    def __init__(self):
        self.started = time.perf_counter()

    def line(self, label: str, value: str) -> None:
        print(f"{label:<44} {value}", flush=True)


# --- building the catalogue ---------------------------------------------------------------------

def make_images(folder: Path, n: int) -> list[str]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    names = []
    for i in range(n):
        name = f"img{i:05d}.jpg"
        img = Image.new("RGB", (24, 32), (255, 255, 255))
        img.paste(tuple(rng.randrange(256) for _ in range(3)), (4, 4, 20, 28))
        img.save(folder / name, "JPEG", quality=80)
        names.append(f"images/{name}")
    return names


def seller_tag(rng: random.Random, colors: list[str]) -> str:
    roll = rng.random()
    if roll < 0.30:
        return ""
    if roll < 0.33:
        return rng.choice(["Sunset Glow", "Multi", "N/A", "Assorted"])
    name = rng.choice(colors)
    return name.lower() if roll < 0.5 else name


def write_catalogue(path: Path, rows: int, images: list[str], colors: list[str]) -> None:
    rng = random.Random(11)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["sku", "title", "category", "image", "seller_color", "brand"])
        for i in range(rows):
            category = CATEGORIES[i % len(CATEGORIES)]
            title = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {category} {i}"
            out.writerow([f"SKU{i:08d}", title, category, images[i % len(images)], seller_tag(rng, colors),
                          f"Brand {i % 300}"])


def insert_like(cur, table: str, values: dict[str, str], source: str, params=None) -> None:
    """INSERT ... SELECT over ``source``: the columns named in ``values`` get those SQL expressions, every
    other column the value it has in the table's first row (so new columns need no change here)."""
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
                "AND is_generated = 'NEVER' ORDER BY ordinal_position", [table])  # generated ones compute themselves
    columns = [row[0] for row in cur.fetchall()]
    exprs = [values.get(c, f"template.{c}") for c in columns]
    cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
                f"FROM (SELECT * FROM {table} ORDER BY id LIMIT 1) template CROSS JOIN {source}", params)


def generate_products(start: int, end: int) -> None:
    """Products shaped like imported ones (same images, categories and tag mix), by SQL."""
    from django.db import connection

    categories = "ARRAY[" + ",".join(f"'{c}'" for c in CATEGORIES) + "]"
    untagged = "(g * 7) % 10 < 3"
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE pool AS SELECT row_number() OVER (ORDER BY image) - 1 AS n, image, "
                    "image_checksum FROM (SELECT DISTINCT image, image_checksum FROM colorreview_product "
                    "WHERE image_checksum <> '') d")
        cur.execute("SELECT count(*) FROM pool")
        pool = cur.fetchone()[0]
        cur.execute("CREATE TEMP TABLE tags AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, name "
                    "FROM colorreview_colorname WHERE active")
        cur.execute("SELECT count(*) FROM tags")
        tags = cur.fetchone()[0]
        insert_like(cur, "colorreview_product", {
            "sku": "'SKU' || lpad(g::text, 8, '0')",
            "title": f"'Generated ' || ({categories})[1 + g % {len(CATEGORIES)}] || ' ' || g",
            "category": f"({categories})[1 + g % {len(CATEGORIES)}]",
            "image": "pool.image", "image_source": "pool.image", "image_source_stat": "''",
            "image_checksum": "pool.image_checksum", "image_error": "''",
            "seller_color_raw": f"CASE WHEN {untagged} THEN '' ELSE tags.name END",
            "seller_color_id": f"CASE WHEN {untagged} THEN NULL ELSE tags.id END",
            "final_color": f"CASE WHEN {untagged} THEN '' ELSE tags.name END",
            "attributes": "jsonb_build_object('brand', 'Brand ' || g % 300)", "status": "'pending'",
            "status_detail": "''", "created_at": "now()", "updated_at": "now()", "import_batch_id": "NULL",
            "pipeline_run_id": "NULL", "attempts": "0",
        }, f"generate_series({start}, {end - 1}) g JOIN pool ON pool.n = g % {pool} "
           f"JOIN tags ON tags.n = (g * 13) % {tags}")
        cur.execute("ANALYZE colorreview_product")  # as autovacuum would after a load this size


def predict_rest_by_sql(version: str) -> None:
    """Predictions for every product still without one, and suggestions for about 30% of products."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT array_agg(name ORDER BY id), array_agg(family ORDER BY id) FROM colorreview_colorname "
                    "WHERE active")
        names, families = cur.fetchone()
        insert_like(cur, "colorreview_prediction", {
            "product_id": "p.id", "image_checksum": "p.image_checksum", "model_version": "%(v)s",
            "config": "'{}'::jsonb", "predicted_color": "c.name", "confidence": "c.conf", "family": "c.family",
            "probabilities": "jsonb_build_object(c.name, c.conf)", "dominant_colors": "'[]'::jsonb",
            "region": "'upper'", "garment_fraction": "0.3", "flags": "'[]'::jsonb", "error": "''", "seconds": "0",
            "mask": "''", "run_id": "NULL", "created_at": "now()",
        }, """colorreview_product p
            CROSS JOIN LATERAL (SELECT
                CASE WHEN p.seller_color_raw <> '' AND (p.id * 31) %% 100 >= 8 THEN p.final_color
                     ELSE (%(names)s::text[])[1 + (p.id * 17) %% %(n)s] END AS name,
                (%(families)s::text[])[1 + (p.id * 17) %% %(n)s] AS family,
                0.80 + ((p.id * 37) %% 200) / 1000.0 AS conf) c
            WHERE p.image_checksum <> ''
              AND NOT EXISTS (SELECT 1 FROM colorreview_prediction x WHERE x.product_id = p.id
                              AND x.model_version = %(v)s)""",
            {"v": version, "names": names, "families": families, "n": len(names)})
        cur.execute("UPDATE colorreview_product SET status = 'predicted' WHERE status <> 'predicted'")
        insert_like(cur, "colorreview_suggestion", {
            "product_id": "p.id", "prediction_id": "pr.id",
            "kind": "CASE WHEN p.seller_color_raw = '' THEN 'impute' ELSE 'mislabel' END",
            "severity": "CASE WHEN p.seller_color_raw = '' THEN '' WHEN p.id %% 10 = 0 THEN 'shade' ELSE 'family' END",
            "seller_color": "p.final_color", "suggested_color": "pr.predicted_color", "confidence": "pr.confidence",
            "score": "pr.confidence", "expected_precision": "NULL", "threshold": "0.8", "status": "'pending'",
            "final_color": "''", "decided_by_id": "NULL", "decided_at": "NULL", "bulk_id": "NULL",
            "claimed_by_id": "NULL", "claimed_until": "NULL", "created_at": "now()",
        }, """colorreview_product p JOIN colorreview_prediction pr ON pr.product_id = p.id
            WHERE pr.model_version = %(v)s AND pr.predicted_color <> p.final_color
              AND ((p.seller_color_raw = '' AND (p.id * 13) %% 10 < 8) OR (p.seller_color_raw <> ''))
              AND NOT EXISTS (SELECT 1 FROM colorreview_suggestion s WHERE s.product_id = p.id
                              AND s.status = 'pending')""", {"v": version})
        cur.execute("ANALYZE")


class NoOpPipeline:
    """Reads no pixel: a colour and a confidence derived from the product key."""

    version = "noop-1"
    config_digest = "0"

    def __init__(self, colors: list[str]):
        from colorreview.services.vocabulary import db_region_table, db_vocabulary

        self.colors = colors
        self.vocabulary = db_vocabulary()  # as a real pipeline holds it, loaded once per process
        self.region_table = db_region_table()

    def describe(self) -> dict:
        return {"version": self.version}

    def predict_batch(self, inputs):
        from inference.pipeline import ColorPrediction

        out = []
        for item in inputs:
            h = zlib.crc32(str(item.key).encode())
            color, conf = self.colors[h % len(self.colors)], 0.5 + (h % 500) / 1000
            out.append(ColorPrediction(key=item.key, predicted_color=color, confidence=conf, family=color,
                                       probabilities={color: conf}))
        return out


# --- measuring ----------------------------------------------------------------------------------

def timed(fn, *a, **kw):
    started = time.perf_counter()
    result = fn(*a, **kw)
    return result, time.perf_counter() - started


def publish_figure(url: str, count: int, run_id: int) -> str:
    """Seconds to hand ``count`` range batches to Redis as a run's job does (the task's own messages, one
    producer), on a queue of the benchmark's own that is emptied afterwards."""
    from colorreview.tasks import predict_products

    app = predict_products.app
    try:
        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1)
            producer = app.amqp.Producer(conn)
            started = time.perf_counter()
            for i in range(count):
                predict_products.apply_async(([], run_id), kwargs={"batch_id": i}, producer=producer,
                                             queue="scale-benchmark")
            seconds = time.perf_counter() - started
            conn.default_channel.queue_purge("scale-benchmark")
    except Exception as exc:  # no Redis here: say so, the other figures stand
        return f"not measured ({type(exc).__name__}: {exc})"
    return f"{seconds:.1f} s for {count:,} batches ({count / seconds:,.0f} messages/s)"


def page_figures(client, url: str, n: int, **extra) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        client.get(url, **extra)
    seconds = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url, **extra)
        seconds.append(time.perf_counter() - started)
        assert response.status_code in (200, 286), (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **extra)
    return _percentiles(seconds) + f", {len(queries)} queries"


def _percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"


def main() -> None:
    args = options()
    import machine

    work = Path(args.workdir or tempfile.mkdtemp(prefix="cr-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    report = Report()
    report.line("machine", machine.describe())
    report.line("catalogue", f"{args.products:,} products ({min(args.import_rows, args.products):,} imported)")
    configure(args, work)

    from django.contrib.auth.models import Group, User
    from django.test import Client

    from colorreview.models import BulkApproval, ColorName, Product, Suggestion
    from colorreview.services import bulk, predictions, runs
    from colorreview.services.catalog import import_catalog
    from colorreview.services.summary import summary_refresh

    colors = list(ColorName.objects.filter(active=True).values_list("name", flat=True))
    noop = NoOpPipeline(colors)
    predictions.current_pipeline = lambda: noop  # noqa: E731  the no-op model for the whole benchmark

    images = make_images(work / "images", args.images)
    imported = min(args.import_rows, args.products)
    write_catalogue(work / "catalog.csv", imported, images, colors)
    report_, seconds = timed(import_catalog, csv_path=work / "catalog.csv", source_name="catalog.csv", csv_dir=work)
    report.line("import (first)", f"{imported / seconds:,.0f} rows/s ({imported:,} rows in {seconds:.1f} s; "
                                  f"{report_.summary()})")
    report_, again = timed(import_catalog, csv_path=work / "catalog.csv", source_name="catalog.csv", csv_dir=work)
    report.line("import (same file again)", f"{imported / again:,.0f} rows/s ({again:.1f} s, "
                                            f"{seconds / again:.1f}x faster; {report_.unchanged:,} unchanged)")

    _, seconds = timed(generate_products, imported, args.products)
    report.line("generated products (SQL)", f"{args.products - imported:,} in {seconds:.1f} s")

    # the pipeline: a run over the whole catalogue, then the worker's storage path on a sample
    sent = []
    runs._publish = lambda run_id, batches, release=True, batch_ids=None: sent.extend(map(len, batches))  # no broker
    from colorreview import tasks

    tasks.enqueue_run.delay = lambda pk: None  # the job is run below, in this process
    run, seconds = timed(runs.pipeline_run_start)
    report.line("run start (web request)", f"{seconds * 1000:.0f} ms")
    _, seconds = timed(runs.run_enqueue, run_id=run.pk)
    run.refresh_from_db()
    report.line("run creation (background job)", f"{seconds:.1f} s to queue {run.total:,} products in "
                                                 f"{len(sent):,} batches (broker publish apart, below)")
    report.line("publishing those batches to Redis", publish_figure(args.redis, len(sent), run.pk))
    _, seconds = timed(runs.pipeline_run_cancel, run=run)
    report.line("run cancel", f"{seconds:.1f} s (queued products back to pending, ranges kept for redeliveries)")

    ids = list(Product.objects.order_by("pk").values_list("pk", flat=True)[:args.stored_sample])
    for size in (16, 64):
        sample, ids = ids[:len(ids) // 2], ids[len(ids) // 2:]
        started = time.perf_counter()
        for i in range(0, len(sample), size):
            predictions.predict_products(product_ids=sample[i:i + size])
        seconds = time.perf_counter() - started
        report.line(f"stored per worker (no-op model, batch {size})",
                    f"{len(sample) / seconds:,.0f} products/s ({len(sample):,} in {seconds:.1f} s)")

    _, seconds = timed(predict_rest_by_sql, predictions.model_version())
    pending = Suggestion.objects.filter(status="pending").count()
    report.line("generated predictions + suggestions (SQL)", f"{seconds:.1f} s; {pending:,} open suggestions "
                                                             f"({pending / args.products:.0%} of products)")
    summary_refresh()

    users = {}
    for role in ("curator", "merchandiser", "admin"):
        users[role] = User.objects.create_user(role, password="x")
        users[role].groups.add(Group.objects.get(name=role))
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)

    from colorreview.paging import encode_cursor

    deep = (Suggestion.objects.filter(status="pending").order_by(*Suggestion.QUEUE_ORDER)
            .values_list("queue_rank", "id"))
    deep = deep[min(100_000, max(0, pending - 30))]
    product = Product.objects.filter(suggestions__status="pending", suggestions__kind="mislabel").order_by("pk") \
        .values_list("sku", "title").first()
    pages = [
        ("queue, first page", "curator", "/review/"),
        ("queue, a deep page", "admin", f"/review/?page={encode_cursor(deep, 'after')}"),
        ("queue, colour filter", "curator", "/review/?color=Blue"),
        ("queue, category filter", "curator", "/review/?category=Jeans"),
        ("queue, text search (sku)", "curator", f"/review/?q={product[0]}"),
        ("queue, text search (title words)", "curator", "/review/?q=Jeans+4242"),
        ("imputation page", "merchandiser", "/imputations/"),
        ("dashboard", "admin", "/"),
        ("products list, deep filter", "admin", "/products/?category=Shorts&status=predicted"),
        ("products list, open mislabel flag", "admin", "/products/?open=mislabel"),
        ("products list, open imputation", "admin", "/products/?open=impute&category=Jeans"),
        ("API suggestion list", "admin", "/api/suggestions/"),
        ("API product list", "admin", "/api/products/?category=Jeans"),
    ]
    for label, role, url in pages:
        report.line(label, page_figures(clients[role], url, args.requests))

    mislabels = list(Suggestion.objects.filter(status="pending", kind="mislabel").order_by(*Suggestion.QUEUE_ORDER)
                     .values_list("pk", flat=True)[:args.requests])
    seconds = []
    for pk in mislabels:
        started = time.perf_counter()
        response = clients["curator"].post(f"/review/{pk}/accept/", HTTP_HX_REQUEST="true")
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200
    report.line("one decision (accept, HTMX)", _percentiles(seconds))

    merchandiser = users["merchandiser"]
    for size in (20_000, 100_000):
        available = Suggestion.objects.filter(status="pending", kind="impute").count()
        if available < size:
            report.line(f"bulk approval of {size:,}", f"skipped: only {available:,} pending imputations")
            continue
        cut = (Suggestion.objects.filter(status="pending", kind="impute").order_by("-confidence")
               .values_list("confidence", flat=True)[size - 1])
        (approval, start_s) = timed(bulk.bulk_approval_start, user=merchandiser, min_confidence=cut)
        approval, run_s = timed(bulk.bulk_approval_run, approval_id=approval.pk)
        report.line(f"bulk approval of {size:,}", f"{approval.accepted:,} accepted: count + start "
                                                  f"{start_s * 1000:.0f} ms, background job {run_s:.1f} s")
    first = BulkApproval.objects.order_by("pk").first()
    if first is not None:
        BulkApproval.objects.filter(pk=first.pk).update(status="undone", undone_by=merchandiser)
        undone, seconds = timed(bulk.bulk_undo_run, approval_id=first.pk)
        report.line("undo of the first bulk approval", f"{undone.reverted:,} put back in {seconds:.1f} s")

    env = {**os.environ}
    started = time.perf_counter()
    timing = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "manage.py", "export_tags", "--out",
                             str(work / "export.csv")], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    peak = int(timing.stderr.strip().splitlines()[-1]) / 1024  # kilobytes, from GNU time
    with open(work / "export.csv", newline="", encoding="utf-8") as fh:
        rows = sum(1 for _ in fh) - 1
    report.line("export, all rows", f"{rows:,} rows in {seconds:.1f} s, peak RSS {peak:.0f} MB")
    print(f"(work folder: {work}; database: {args.database_url})")


if __name__ == "__main__":
    main()
