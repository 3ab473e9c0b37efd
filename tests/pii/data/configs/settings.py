import os

import dj_database_url

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "shop",
        "USER": "shop_web",
        "PASSWORD": "Dj6!pWq2Lx",
        "HOST": "pg.acme-corp.io",
    },
    "reports": dj_database_url.parse("postgres://reports:Rp3zKv8mNq@pg-ro.acme-corp.io:5432/reports"),
    "legacy": {
        "ENGINE": "mssql",
        "OPTIONS": {"extra_params": "Server=legacy.acme-corp.io;Uid=erp;Pwd=Ms7wQk2zLt;Encrypt=yes"},
    },
}
CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                      "LOCATION": "redis://:Cc5nTq8wXz@cache.acme-corp.io:6379/1"}}
EMAIL_HOST_PASSWORD = os.environ["EMAIL_HOST_PASSWORD"]
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
ANALYTICS_TOKEN = os.environ.get("ANALYTICS_TOKEN", "")
ANALYTICS_URL = f"https://stats.acme-corp.io/ingest?site=shop&token={ANALYTICS_TOKEN}"
LOGIN_URL = "/accounts/login/?next=/&reset_password=1"
