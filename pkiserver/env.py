"""Typed environment readers that fail loudly and name the variable at fault."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

logger = logging.getLogger("pkiserver")

# FileAwareEnv also accepts NAME_FILE, pointing at a file that holds the secret.
_env = environ.FileAwareEnv()


class ConfigError(ImproperlyConfigured):
    """A configuration variable holds a value we cannot use."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"Configuration error in {name}: {problem}")
        self.name = name


def read_dotenv(path: Path) -> None:
    """Load `.env` into the process environment without overriding real variables."""
    if path.is_file():
        environ.Env.read_env(str(path), overwrite=False)


def is_set(name: str) -> bool:
    return name in os.environ or f"{name}_FILE" in os.environ


def _read(name: str, cast: Callable[..., T], default: Any) -> T:
    try:
        return cast(name, default=default)
    except ImproperlyConfigured as exc:  # includes missing values with no default
        raise ConfigError(name, str(exc)) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(name, f"cannot parse {_env.str(name, default='')!r} ({exc})") from exc
    except OSError as exc:  # NAME_FILE names a file we cannot read
        raise ConfigError(name, f"cannot read {name}_FILE: {exc.strerror or exc}") from None


def env_str(name: str, default: str | None = None) -> str:
    value = _read(name, _env.str, default)
    if value is None:
        raise ConfigError(name, "is required")
    if f"{name}_FILE" in os.environ:  # a secret file usually ends with a newline that is not part of it
        value = value.rstrip("\r\n")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(name, f"expected a boolean (true/false/1/0), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {value}")
    return value


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(sorted(choices))}, got {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    if raw.startswith("["):  # FastPKI writes BACKEND_CORS_ORIGINS as a JSON list
        import json

        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(name, f"invalid JSON list ({exc})") from None
        if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
            raise ConfigError(name, "must be a list of strings")
        return [x.strip() for x in parsed if x.strip()]
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_origins(name: str) -> list[str]:
    """CORS origins (`scheme://host[:port]`), as a JSON list or comma-separated; FastPKI's trailing `/` is dropped."""
    origins = [origin.rstrip("/") for origin in env_list(name, [])]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path or parts.query:
            raise ConfigError(name, f"expected origins such as 'https://app.example.com', got {origin!r}")
    return origins


SUPPORTED_DB_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}


def env_db(name: str, default: str) -> dict[str, Any]:
    url = env_str(name, default)
    try:
        config = environ.Env.db_url_config(url)
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        raise ConfigError(name, f"unsupported database URL ({exc})") from None
    if config.get("ENGINE") not in SUPPORTED_DB_ENGINES:
        # Name only the scheme: the URL may carry a password.
        scheme = repr(url.partition("://")[0]) if "://" in url else "(none)"
        raise ConfigError(name, f"unsupported database URL scheme {scheme}; use sqlite:///path or postgres://...")
    return config


def env_cache(name: str, default: str) -> dict[str, Any]:
    url = env_str(name, default)
    try:
        return environ.Env.cache_url_config(url)
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        raise ConfigError(name, f"unsupported cache URL ({exc})") from None


def env_rate(name: str, default: str) -> str:
    """A rate in FastPKI's format, such as `5/minute`."""
    value = env_str(name, default).strip()
    count, _, period = value.partition("/")
    units = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}
    # isascii: str.isdigit() also accepts "²", which int() then refuses with a bare ValueError.
    if not (count.isascii() and count.isdigit()) or int(count) < 1 or period.strip().lower() not in units:
        raise ConfigError(name, f"expected a rate such as '5/minute', got {value!r}")
    return f"{int(count)}/{period.strip().lower()}"


def private_directory(path: Path) -> Path:
    """Create `path` if missing, readable by this account only (0700, SPEC §11); an existing one is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


# Files SQLite keeps beside a database: rollback journal, write-ahead log, shared-memory index.
_SQLITE_COMPANIONS = ("", "-journal", "-wal", "-shm")


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite database 0600 before SQLite opens it (SQLite then gives its journals the
    same mode, SPEC §11), and take group and other access off files an older version left readable."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # no directory, no write access: SQLite reports it, as a database error
    for name in (f"{path}{suffix}" for suffix in _SQLITE_COMPANIONS):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
                logger.warning("Made %s private to this account (mode %04o, was %04o).", name, mode & 0o700, mode)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change (another owner, a read-only mount): say so, carry on
            logger.warning("%s is readable by other accounts and cannot be made private: %s", name, exc.strerror)


def persistent_secret(name: str, path: Path, *, make: Callable[[], str], min_length: int = 0) -> str:
    """Read a secret from the environment, else from `path`, else create it there (mode 0600)."""
    if is_set(name):
        value = env_str(name)
    else:
        private_directory(path.parent)
        if not path.exists():
            # Write the whole secret to a private temporary file, then link it into place: a
            # process starting beside us sees either no file or a complete one, never a half.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(make())
                os.chmod(tmp, 0o600)
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass  # another process won; use its secret
            finally:
                os.unlink(tmp)
        value = path.read_text().strip()
    if len(value) < min_length:
        raise ConfigError(name, f"must be at least {min_length} characters long")
    return value


def random_secret_key() -> str:
    return secrets.token_urlsafe(50)


def fernet_keys(name: str, path: Path) -> list[str]:
    """Fernet keys from `name` (comma-separated, newest first), else one kept in `path`."""
    from certificates.x509.sealing import is_sealing_key, new_sealing_key

    if is_set(name):
        raw = env_str(name)
    else:
        existed = path.exists()
        raw = persistent_secret(name, path, make=new_sealing_key)
        if not existed:
            import logging

            logging.getLogger("pkiserver").warning(
                "No %s configured: created a new key in %s (mode 0600). Back it up with the database.", name, path
            )
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise ConfigError(name, "is empty")
    for index, key in enumerate(keys):
        if not is_sealing_key(key):
            raise ConfigError(name, f"key #{index + 1} is not a valid Fernet key (32 url-safe base64-encoded bytes)")
    return keys
