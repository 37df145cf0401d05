"""pkiserver settings: one module, read from the environment (and `.env`)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from pkiserver.env import (
    env_bool,
    env_cache,
    env_choice,
    env_db,
    env_int,
    env_list,
    env_origins,
    env_rate,
    env_str,
    fernet_keys,
    persistent_secret,
    private_directory,
    private_sqlite_file,
    random_secret_key,
    read_dotenv,
)

BASE_DIR = Path(__file__).resolve().parent.parent
read_dotenv(BASE_DIR / ".env")

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = persistent_secret("SECRET_KEY", DATA_DIR / "secret_key", make=random_secret_key, min_length=32)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

# PKI defaults (SPEC §6, §7, §9).
CA_KEY_SIZE = env_int("CA_KEY_SIZE", 4096, minimum=2048, maximum=4096)
CA_CERT_DAYS = env_int("CA_CERT_DAYS", 3650, minimum=1, maximum=36500)
CERT_KEY_SIZE = env_int("CERT_KEY_SIZE", 2048, minimum=2048, maximum=4096)
CERT_DAYS = env_int("CERT_DAYS", 365, minimum=1, maximum=36500)
CRL_VALIDITY_HOURS = env_int("CRL_VALIDITY_HOURS", 24, minimum=1, maximum=24 * 366)
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "").rstrip("/")

# Private keys at rest (SPEC §11): Fernet keys, newest first, comma-separated.
PRIVATE_KEY_ENCRYPTION_KEYS = fernet_keys("PRIVATE_KEY_ENCRYPTION_KEY", DATA_DIR / "private_key_encryption.key")

# Authentication (SPEC §2).
ACCESS_TOKEN_EXPIRE_MINUTES = env_int("ACCESS_TOKEN_EXPIRE_MINUTES", 15, minimum=1)
REFRESH_TOKEN_EXPIRE_MINUTES = env_int("REFRESH_TOKEN_EXPIRE_MINUTES", 1440, minimum=1)
ALGORITHM = env_choice("ALGORITHM", "HS256", {"HS256", "HS384", "HS512"})
ALLOW_UNAUTHENTICATED_REGISTRATION = env_bool("ALLOW_UNAUTHENTICATED_REGISTRATION", True)
AUTH_RATE_LIMIT = env_rate("AUTH_RATE_LIMIT", "5/minute")
# Anonymous registrations (POST /users/) per client address; each costs an Argon2 hash (SPEC §1).
REGISTRATION_RATE_LIMIT = env_rate("REGISTRATION_RATE_LIMIT", "10/hour")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "pkiserver",
    "accounts",
    "orgs",
    "audit",
    "certificates",
    "serviceaccounts",
    "acmeserver",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "pkiserver.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "pkiserver.api.errors.request_size_limit",  # 413 before any view reads an oversized body
    "django.middleware.common.CommonMiddleware",
    "pkiserver.middleware.JSONErrorMiddleware",  # 411, 414, and every error outside the console as JSON
    "django.middleware.csrf.CsrfViewMiddleware",
    # The admin console's login; the API reads bearer tokens only and ignores its session cookie.
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pkiserver.urls"
WSGI_APPLICATION = "pkiserver.wsgi.application"
APPEND_SLASH = False  # every API route answers with and without the slash; never redirect
CSRF_FAILURE_VIEW = "pkiserver.api.errors.csrf_failure"  # JSON outside the console, Django's page in it
# Largest request body: a CSR or a policy is a few KiB; larger bodies get 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_db("DATABASE_URL", f"sqlite:///{DATA_DIR / 'pkiserver.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}  # one in-memory database per test process
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Take the write lock when a transaction starts, so check-then-write is atomic; other
            # writers wait for it (SQLite's busy timeout) rather than fail.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    private_directory(DATA_DIR)  # the database goes in it (SPEC §11)
    if not str(DATABASES["default"]["NAME"]).startswith(("file:", ":memory:")):
        private_sqlite_file(Path(DATABASES["default"]["NAME"]))
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # a connection the server dropped is replaced, not a 500
    # Parameters bound by the server, and a statement run twice on a connection is prepared. Not for
    # PgBouncer in transaction mode, which cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
# Connections are kept between requests on both databases: opening one (or a SQLite file and its
# pragmas) would be paid by every request.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)

# Per process by default: the embedded default (`./run`) is one process. Several server processes
# share one through CACHE_URL (Redis, or the database cache); gunicorn.conf.py insists on it.
CACHES = {
    "default": env_cache("CACHE_URL", "locmemcache://"),
    # Signed CRLs, checked against the stored CRL's number on every read (certificates/services/
    # revocation.py): per process whatever CACHE_URL says, at most 32 of them (up to 16 MB each).
    "crl": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "crl",
        "OPTIONS": {"MAX_ENTRIES": 32},
    },
}

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2PasswordHasher",  # Argon2id with RFC 9106's 64 MiB parameters
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CORS_ALLOWED_ORIGINS = env_origins("BACKEND_CORS_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["X-Total-Count", "Content-Disposition"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Declines (None) anything but its own `pkisa_` tokens, so JWTs reach the next class.
        "serviceaccounts.authentication.ServiceAccountTokenAuthentication",
        "accounts.authentication.BearerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["pkiserver.api.permissions.PolicyPermission"],
    "DEFAULT_PAGINATION_CLASS": "pkiserver.api.pagination.SkipLimitPagination",
    "DEFAULT_RENDERER_CLASSES": ["pkiserver.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["pkiserver.api.parsers.JSONParser"],  # objects only, bounded depth, no NUL
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pkiserver.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_RATES": {
        "login_user": AUTH_RATE_LIMIT,
        "login_addr": AUTH_RATE_LIMIT,
        "registration": REGISTRATION_RATE_LIMIT,
    },
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(minutes=REFRESH_TOKEN_EXPIRE_MINUTES),
    "ALGORITHM": ALGORITHM,
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "LEEWAY": 0,
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "pkiserver API",
    "DESCRIPTION": "Certificate-authority management server (FastPKI-compatible REST API).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pkiserver.api.errors.document_error_responses",
    ],
}

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None

# HTTPS in production (`manage.py check --deploy`). HSTS is only ever sent on HTTPS requests.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Relying parties fetch CRLs, CA certificates and OCSP over plain HTTP (RFC 5280 §4.2.1.13), and
# load balancers probe the health routes: these are never redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^crl/", r"^ca/", r"^ocsp/", r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
