"""Database backends: Django's own, with the changes pkiserver needs."""
