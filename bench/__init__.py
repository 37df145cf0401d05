"""pkiserver's benchmark: real gunicorn servers, figures as ratios to in-process `cryptography` floors."""
