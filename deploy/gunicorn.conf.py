"""gunicorn settings of a Jemput app server behind nginx (``deploy/nginx/jemput.conf``).

    gunicorn -c /opt/jemput/deploy/gunicorn.conf.py 'server:create_app()'

nginx buffers slow clients, so a few sync workers with threads serve many laptops. Listen on
loopback (or the private address nginx reaches); never expose gunicorn itself.
"""

import multiprocessing
import os

bind = os.environ.get("JEMPUT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("JEMPUT_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("JEMPUT_THREADS", 4))
# A request that takes longer than this is killed; uploads and pushes take seconds.
timeout = 60
graceful_timeout = 20
keepalive = 5
# The app decides which forwarded headers to believe (JEMPUT_TRUSTED_PROXIES); gunicorn's own
# check must not strip them first.
forwarded_allow_ips = os.environ.get("JEMPUT_TRUSTED_PROXIES", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# No query strings in the access log: a query may hold a NIK.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms id=%({x-request-id}o)s'
