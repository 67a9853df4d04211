"""Django settings. Everything comes from the environment, with defaults that work out of the box
(SQLite, an embedded task queue, the shipped weights)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_float, env_int, env_list, env_optional_bool, env_str, read_secret_file

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("COLORREVIEW_VAR_DIR", str(BASE_DIR / "var")))

DEFAULT_SECRET = "colorreview-insecure-default-secret"
#: the key `scripts/run.sh` generates, so that any later command in a new shell signs sessions the same way
SECRET_KEY_FILE = VAR_DIR / "secret_key"
SECRET_KEY = env_str("SECRET_KEY", "") or read_secret_file(SECRET_KEY_FILE) or DEFAULT_SECRET
DEBUG = env_bool("DEBUG", False)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET and not env_bool("COLORREVIEW_ALLOW_DEFAULT_SECRET", False):
    raise ImproperlyConfigured(
        f"SECRET_KEY is the built-in default while DEBUG is off: set SECRET_KEY, or write one to {SECRET_KEY_FILE} "
        "(scripts/run.sh does), or DEBUG=1 for local use"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- behind HTTPS (production) ----------------------------------------------------------
# COLORREVIEW_HTTPS=1 when the site is served over HTTPS: secure cookies, HSTS, redirect to https.
# SECURE_PROXY_SSL_HEADER names the header a TLS-terminating proxy sets, e.g. HTTP_X_FORWARDED_PROTO
# (only when that proxy strips it from client requests).
COLORREVIEW_HTTPS = env_bool("COLORREVIEW_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", COLORREVIEW_HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks speak plain HTTP inside the network
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = COLORREVIEW_HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if COLORREVIEW_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", COLORREVIEW_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", COLORREVIEW_HTTPS)
if env_str("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (env_str("SECURE_PROXY_SSL_HEADER"), "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_htmx",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "colorreview",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "colorreview.middleware.UploadLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "colorreview.middleware.LoginRedirectMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "colorreview.urls"
WSGI_APPLICATION = "colorreview.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "colorreview.views.context.roles_context",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE",
                                       "init_command": "PRAGMA journal_mode=WAL;"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-ins while a username/address is locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout after repeated failed sign-ins, per username and address.
AXES_FAILURE_LIMIT = env_int("COLORREVIEW_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("COLORREVIEW_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Content-Security-Policy: scripts and styles from this site only (htmx is served from static/);
# inline style attributes stay allowed for the colour swatches, never inline scripts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "/login/?signed_out=1"  # the sign-in page says so

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_str("STATIC_ROOT", "") or None  # for collectstatic; WhiteNoise also serves from the finders
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Product images and mask overlays (content-addressed, so a stored name is never rewritten with
# other content). COLORREVIEW_STORAGE=s3 keeps them in an S3-compatible bucket through
# django-storages (`pip install .[s3]`), so that workers on other hosts can read them.
COLORREVIEW_STORAGE = env_str("COLORREVIEW_STORAGE", "filesystem")
if COLORREVIEW_STORAGE == "s3":
    MEDIA_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": env_str("COLORREVIEW_S3_BUCKET"), "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
        "region_name": env_str("AWS_S3_REGION_NAME") or None, "default_acl": None, "file_overwrite": True,
        "querystring_auth": True}}  # credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the host's role
    if not MEDIA_STORAGE["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("COLORREVIEW_STORAGE=s3 needs COLORREVIEW_S3_BUCKET")
elif COLORREVIEW_STORAGE == "filesystem":
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"allow_overwrite": True}}
else:
    raise ImproperlyConfigured(f"COLORREVIEW_STORAGE must be filesystem or s3, got {COLORREVIEW_STORAGE!r}")
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
                    if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
COLORREVIEW_MAX_UPLOAD_BYTES = env_int("COLORREVIEW_MAX_UPLOAD_BYTES", 500 * 1024 * 1024)
COLORREVIEW_SUMMARY_SECONDS = env_int("COLORREVIEW_SUMMARY_SECONDS", 60)  # dashboard figures at most this old
COLORREVIEW_BULK_INLINE = env_int("COLORREVIEW_BULK_INLINE", 2000)  # larger bulk approvals run in the background
COLORREVIEW_UPLOAD_DIR = Path(env_str("COLORREVIEW_UPLOAD_DIR", str(VAR_DIR / "uploads")))

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes a request without credentials a 401, not a 403
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["colorreview.api.permissions.HasRole"],
    "DEFAULT_PAGINATION_CLASS": "colorreview.api.pagination.KeysetCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "colorreview.api.schema.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [  # a request refused before them (a wrong token, no role) counts too
        "colorreview.api.throttling.AnonThrottle",
        "colorreview.api.throttling.UserThrottle",
    ],
    "EXCEPTION_HANDLER": "colorreview.api.throttling.exception_handler",
    # the address a rate counts by: the connection's, unless trusted proxies in front add X-Forwarded-For
    "NUM_PROXIES": env_int("COLORREVIEW_PROXIES", 0),
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("COLORREVIEW_API_ANON_RATE", "30/minute"),
        "user": env_str("COLORREVIEW_API_USER_RATE", "1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ColorReview API",
    "DESCRIPTION": "Products, predictions, suggestions and their review decisions, pipeline runs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["colorreview.api.permissions.HasRole"],
    # one name for a bulk approval's states, shown by the bulk approvals and by bulk-accept's answer alike
    "ENUM_NAME_OVERRIDES": {"BulkApprovalStatusEnum": "colorreview.models.BulkApproval.Status"},
    # every operation needs credentials: each lists the 401 answered without them
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "colorreview.api.schema.document_unauthenticated"],
}

# --- task queue -------------------------------------------------------------------------
# Every Celery setting is here. With CELERY_BROKER_URL set (e.g. redis://127.0.0.1:6379/0) tasks
# go to that broker: pipeline batches to the `gpu` queue, everything else to `default`, each
# served by its own workers. Without it an embedded, server-less queue is used: a folder-backed
# broker consumed by the worker that `manage.py serve` starts (both queues), and
# `run_pipeline --wait` runs the same tasks in its own process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
COLORREVIEW_EMBEDDED_QUEUE = not CELERY_BROKER_URL
QUEUE_DIR = VAR_DIR / "queue"
if COLORREVIEW_EMBEDDED_QUEUE:
    CELERY_BROKER_URL = "filesystem://"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"colorreview.tasks.predict_products": {"queue": "gpu"},
                      "colorreview.tasks.retrain_job": {"queue": "default"}}
COLORREVIEW_QUEUES = ("gpu", "default")
# A batch is acknowledged when it ends; a worker process that dies mid-batch (OOM killer) hands
# it back to the queue, and the batch is idempotent (see services/progress.py).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("COLORREVIEW_TASK_TIME_LIMIT", 1800)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - min(60, CELERY_TASK_TIME_LIMIT // 2)
# Redis hands an unacknowledged message to another worker after the visibility timeout: keep it
# above the time limit, or a long batch would run twice at once.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"data_folder_in": str(QUEUE_DIR / "messages"), "data_folder_out": str(QUEUE_DIR / "messages"),
     "processed_folder": str(QUEUE_DIR / "processed"), "control_folder": str(QUEUE_DIR / "control"),
     "store_processed": False}
    if COLORREVIEW_EMBEDDED_QUEUE else
    {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600, "socket_connect_timeout": 5})
# Publishing gives up quickly when the broker is down, so that a page can say so.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 1}
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker waits for a restarted broker
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Workers beat every COLORREVIEW_WORKER_BEAT seconds; one silent for COLORREVIEW_WORKER_TIMEOUT is
# gone. A run with no progress for COLORREVIEW_STALL_SECONDS and no worker alive is stalled.
COLORREVIEW_WORKER_BEAT = env_int("COLORREVIEW_WORKER_BEAT", 15)
COLORREVIEW_WORKER_TIMEOUT = env_int("COLORREVIEW_WORKER_TIMEOUT", 60)
COLORREVIEW_STALL_SECONDS = env_int("COLORREVIEW_STALL_SECONDS", 180)

# --- pipeline ---------------------------------------------------------------------------
COLORREVIEW_SEGMENTER = env_str("COLORREVIEW_SEGMENTER", "effunet")
COLORREVIEW_CLASSIFIER = env_str("COLORREVIEW_CLASSIFIER", "timm")
COLORREVIEW_WEIGHTS_DIR = env_str("COLORREVIEW_WEIGHTS_DIR", "") or None
COLORREVIEW_BATCH_SIZE = env_int("COLORREVIEW_BATCH_SIZE", 16)
# Thresholds on calibrated probabilities; empty means "use the model card's calibrated value".
COLORREVIEW_IMPUTE_THRESHOLD = env_float("COLORREVIEW_IMPUTE_THRESHOLD", None)
COLORREVIEW_MISLABEL_THRESHOLD = env_float("COLORREVIEW_MISLABEL_THRESHOLD", None)
# Mislabel rule ("family" or "confident") and shade flags: unset means as the model card ships them.
COLORREVIEW_FLAG_RULE = env_str("COLORREVIEW_FLAG_RULE", "")
COLORREVIEW_SHADE_SUGGESTIONS = env_optional_bool("COLORREVIEW_SHADE_SUGGESTIONS")
COLORREVIEW_SHADE_THRESHOLD = env_float("COLORREVIEW_SHADE_THRESHOLD", None)
# --- learning from reviews -------------------------------------------------------------
# `manage.py retrain` fine-tunes the shipped classifier on reviewers' decisions and promotes the
# candidate only when it is not worse on the audited set (products whose colour a person verified).
COLORREVIEW_MODELS_DIR = Path(env_str("COLORREVIEW_MODELS_DIR", str(VAR_DIR / "models")))
COLORREVIEW_FEATURE_CACHE = Path(env_str("COLORREVIEW_FEATURE_CACHE", str(VAR_DIR / "cache" / "features")))
COLORREVIEW_AUDIT_CSV = Path(env_str("COLORREVIEW_AUDIT_CSV",
                                     str(BASE_DIR / "benchmarks" / "golden" / "val_audit.csv")))
COLORREVIEW_AUDIT_IMAGES = Path(env_str("COLORREVIEW_AUDIT_IMAGES",
                                        str(BASE_DIR.parent / "shared" / "data" / "fashion-products" / "images")))
COLORREVIEW_RETRAIN_MIN_LABELS = env_int("COLORREVIEW_RETRAIN_MIN_LABELS", 50)
#: promoted model versions whose weights are kept (here and in the media storage); older ones are removed
COLORREVIEW_MODELS_KEEP = env_int("COLORREVIEW_MODELS_KEEP", 3)
COLORREVIEW_RETRAIN_REVIEW_WEIGHT = env_float("COLORREVIEW_RETRAIN_REVIEW_WEIGHT", 5.0)
#: catalogue tags (of products nobody reviewed) read beside the reviewed labels, at most
COLORREVIEW_RETRAIN_CATALOGUE_LIMIT = env_int("COLORREVIEW_RETRAIN_CATALOGUE_LIMIT", 1000)
#: after a promotion, products whose stored top-2 margin is below this are read again
COLORREVIEW_REPREDICT_MARGIN = env_float("COLORREVIEW_REPREDICT_MARGIN", 0.3)
#: how long the cards on a reviewer's screen stay leased to them (renewed whenever the queue is loaded)
COLORREVIEW_CLAIM_SECONDS = env_int("COLORREVIEW_CLAIM_SECONDS", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {"colorreview": {"level": env_str("LOG_LEVEL", "INFO")}},
}
