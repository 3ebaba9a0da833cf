"""The production recipe in deploy/ agrees with the app: nginx's body limit is the upload limit, the units run
as a non-root user and restart, the env template names only settings that exist, gunicorn keeps the metrics
of live processes only. (`make smoke-prod` runs the recipe itself.)"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import ROOT, Base

DEPLOY = ROOT / "deploy"
SIZES = {"k": 1024, "m": 1024 * 1024}


def test_nginx_takes_bodies_up_to_the_apps_upload_limit_and_no_more():
    site = (DEPLOY / "nginx" / "rectify.conf").read_text()
    number, unit = re.search(r"client_max_body_size (\d+)([km]);", site).groups()
    assert int(number) * SIZES[unit] == Base.MAX_CONTENT_LENGTH


def test_nginx_terminates_tls_passes_its_request_id_and_keeps_metrics_inside():
    site = (DEPLOY / "nginx" / "rectify.conf").read_text()
    assert "listen 443 ssl http2;" in site and "ssl_certificate " in site and "return 301 https://" in site
    assert "proxy_set_header X-Request-Id $request_id;" in site
    assert "add_header X-Request-Id $request_id always;" in site
    assert re.search(r"location = /metrics \{\s*return 404;", site)
    assert "location /static/" in site and "X-Forwarded-For $proxy_add_x_forwarded_for" in site


@pytest.mark.parametrize("unit", ["rectify-api.service", "rectify-scheduler.service"])
def test_each_unit_runs_as_the_rectify_user_restarts_and_reads_the_env_file(unit):
    text = (DEPLOY / "systemd" / unit).read_text()
    settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["User"] == "rectify" and settings["Restart"] in ("always", "on-failure")
    assert settings["EnvironmentFile"] == "/etc/rectify/rectify.env"
    assert "rectify/prometheus" in settings["RuntimeDirectory"] and settings["RuntimeDirectoryPreserve"] == "yes"


def test_the_scheduler_stops_on_sigint_to_give_its_lease_up():
    assert "KillSignal=SIGINT" in (DEPLOY / "systemd" / "rectify-scheduler.service").read_text()


def test_the_env_template_names_only_settings_something_reads():
    names = [line.split("=", 1)[0] for line in (DEPLOY / "rectify.env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    readers = (ROOT / "config" / "settings.py").read_text() + (DEPLOY / "gunicorn.conf.py").read_text()
    readme = (ROOT / "README.md").read_text()
    unread = [name for name in names if f'"{name}"' not in readers and f"${name}" not in readme]
    assert names and unread == []


def test_gunicorn_forgets_the_metrics_of_dead_processes_and_keeps_the_living(tmp_path):
    alive = tmp_path / f"counter_{os.getpid()}.db"
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
    dead = tmp_path / f"histogram_{dead_pid}.db"
    alive.write_bytes(b"x")
    dead.write_bytes(b"x")
    config = _load_gunicorn_config(tmp_path)
    config.on_starting(server=None)
    assert alive.exists() and not dead.exists()
    assert (config.worker_class, config.accesslog, config.wsgi_app) == ("sync", None, "app:create_app()")


def _load_gunicorn_config(metrics_dir):
    saved = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        spec = importlib.util.spec_from_file_location("rectify_gunicorn_conf", DEPLOY / "gunicorn.conf.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        if saved is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx is not installed here (apt-get install nginx-light)")
def test_nginx_accepts_the_site(tmp_path):
    """`nginx -t` on the site, with a throwaway certificate and this directory for its paths."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rectify.test",
                    "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem"),
                    "-days", "1"], check=True, capture_output=True)
    site = (DEPLOY / "nginx" / "rectify.conf").read_text()
    site = site.replace("/etc/ssl/rectify/", f"{tmp_path}/").replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off; include {tmp_path}/site.conf; }}\n")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
