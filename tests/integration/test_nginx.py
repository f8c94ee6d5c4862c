"""The README's "Behind a proxy" recipes, run: real nginx (from the OS packages) in front of
gunicorn, visited from a second loopback address (127.0.0.2) with forged forwarding
headers. Each hit must carry the visitor's real address and the site's real URL, except
where the README says what a visitor can forge in that configuration.

nginx runs as a child of the test (``daemon off``, ``master_process off``) with its own
configuration, pid, temp and log paths under the test's tmp dir, on free loopback ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from pirsch_middleware.devserver import DevServer

from .harness import free_port, gunicorn_argv, running, server_env, wait_until
from .scenario import FIREFOX

APP = "tests.integration.catchall:wsgi_app"
SITE = "www.example.test"
VISITOR = "127.0.0.2"  # the visitor's real address, as nginx sees it
PROXY = "127.0.0.1"  # nginx, as the next hop sees it
FORGED = {  # what a visitor sends to choose its IP, host and scheme
    "x-forwarded-for": "6.6.6.6",
    "x-forwarded-host": "evil.example",
    "x-forwarded-proto": "https",
    "forwarded": "for=6.6.6.7;proto=https;host=evil.example",
}
# The README's nginx lines, one set per recipe.
PASS_HOST = "proxy_set_header Host $host;"
APPEND = "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
OVERWRITE = "proxy_set_header X-Forwarded-For $remote_addr;"
PROTO = "proxy_set_header X-Forwarded-Proto $scheme;"
KEEP_PROTO = "proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;"
REAL_IP = ("set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For; "
           "real_ip_recursive on;")
FORWARDED_HOST = "proxy_set_header X-Forwarded-Host $host;"
UPSTREAM_HOST = "proxy_set_header Host $proxy_host;"  # nginx's default: the app's address
LB_ADDRESS = "203.0.113.10"  # a load balancer's external address, as Google's appends it


def find_nginx() -> str | None:
    """nginx on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
         if os.access(path, os.X_OK)), None)


NGINX = find_nginx()
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx not found (on PATH or in /usr/sbin): .ci/run installs it "
                          "with apt-get; install the nginx package to run these tests")


@dataclass(frozen=True)
class Recipe:
    """nginx proxies, outermost first (each a set of lines in ``location /``), the
    PIRSCH_* options the app needs behind them, and what each hit must carry."""

    id: str
    hops: tuple[str, ...]
    options: Mapping[str, str]
    ip: str = VISITOR
    url: str = f"http://{SITE}/"  # + the path visited
    forged_ip: str | None = None  # where a visitor CAN forge it (the README says so)
    forged_url: str | None = None
    tls: bool = False  # the outermost proxy terminates TLS
    long_header: bool = False  # also a forged X-Forwarded-For over 2 KB
    visitor_headers: Mapping[str, str] = field(default_factory=lambda: FORGED)


RECIPES = [
    Recipe("append X-Forwarded-For", (f"{PASS_HOST} {APPEND} {PROTO}",),
           {"trusted_proxies": PROXY}, long_header=True),
    Recipe("overwrite X-Forwarded-For", (f"{PASS_HOST} {OVERWRITE} {PROTO}",),
           {"trusted_proxies": PROXY}),
    Recipe("forwarded_host: X-Forwarded-Host from nginx",
           (f"{UPSTREAM_HOST} {FORWARDED_HOST} {APPEND} {PROTO}",),
           {"trusted_proxies": PROXY, "forwarded_host": "true"}),
    Recipe("TLS termination", (f"{PASS_HOST} {APPEND} {PROTO}",),
           {"trusted_proxies": PROXY}, url=f"https://{SITE}/", tls=True),
    Recipe("two chained proxies", (f"{PASS_HOST} {APPEND} {PROTO}",
                                   f"{PASS_HOST} {APPEND} {KEEP_PROTO}"),
           {"trusted_proxies": PROXY}),
    Recipe("real_ip module behind a load balancer", (
        f"{PASS_HOST} {APPEND} {PROTO}",  # the load balancer
        f"{REAL_IP} {PASS_HOST} {OVERWRITE} {KEEP_PROTO}"),
        {"trusted_proxies": PROXY}),
    Recipe("load balancer appending X-Forwarded-For, trusted_proxies='*'",
           (f"{PASS_HOST} {APPEND} {PROTO}",), {"trusted_proxies": "*"}),
    Recipe("load balancer appending the client and itself (Google), '*, <its address>'",
           (f'{PASS_HOST} proxy_set_header X-Forwarded-For '
            f'"$proxy_add_x_forwarded_for, {LB_ADDRESS}"; {PROTO}',),
           {"trusted_proxies": f"*, {LB_ADDRESS}"}),
    # X-Real-IP only: nginx passes the visitor's X-Forwarded-For and -Proto through,
    # and a trusted nginx's headers are believed. The README says so, and how to fix it.
    Recipe("X-Real-IP only (the README's warning)",
           (f"{PASS_HOST} proxy_set_header X-Real-IP $remote_addr;",),
           {"trusted_proxies": PROXY}, ip=PROXY, forged_ip="6.6.6.6",
           forged_url=f"https://{SITE}/"),
]


def nginx_conf(tmp: Path, hops: tuple[str, ...], ports: list[int], app_port: int,
               tls: bool) -> str:
    """One nginx: hop i listens on ports[i] and passes to hop i+1, the last to the app.
    A Host other than SITE is refused (421), as a site's nginx does."""
    servers = []
    for index, lines in enumerate(hops):
        ssl = " ssl" if tls and index == 0 else ""
        upstream = f"127.0.0.1:{ports[index + 1] if index + 1 < len(hops) else app_port}"
        servers.append(f"""
    server {{
        listen 127.0.0.1:{ports[index]}{ssl} default_server;
        return 421;
    }}
    server {{
        listen 127.0.0.1:{ports[index]}{ssl};
        server_name {SITE};
        location / {{
            proxy_pass http://{upstream};
            {lines}
        }}
    }}""")
    certificate = (f"ssl_certificate {tmp}/cert.pem; ssl_certificate_key {tmp}/key.pem;"
                   if tls else "")
    return f"""daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    {certificate}
    {"".join(servers)}
}}
"""


def make_certificate(tmp: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found: needed to make the TLS recipe's certificate")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    f"/CN={SITE}", "-keyout", str(tmp / "key.pem"),
                    "-out", str(tmp / "cert.pem")], check=True, capture_output=True)


@contextlib.contextmanager
def nginx(tmp: Path, conf: str, ports: list[int]) -> Iterator[None]:
    """nginx with ``conf``, until every port answers; stopped (and waited for) after."""
    assert NGINX is not None
    tmp.mkdir(exist_ok=True)
    (tmp / "nginx.conf").write_text(conf)
    log = (tmp / "stderr.log").open("wb")
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)

    def logs() -> str:
        return "\n".join(path.read_text(errors="replace")
                         for path in (tmp / "stderr.log", tmp / "error.log") if path.exists())

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited with {process.returncode}:\n{logs()}")
        return all(_answers(port) for port in ports)

    try:
        if not wait_until(listening, 15):
            raise AssertionError(f"nginx not listening after 15 s:\n{logs()}")
        yield
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def visitor(base: str) -> httpx.Client:
    """A client connecting from VISITOR (certificates not checked: ours is self-signed)."""
    transport = httpx.HTTPTransport(local_address=VISITOR, verify=False)
    return httpx.Client(base_url=base, transport=transport, timeout=15, follow_redirects=False)


@pytest.mark.parametrize("recipe", RECIPES, ids=[recipe.id for recipe in RECIPES])
def test_nginx_recipe(recipe: Recipe, receiver: DevServer, tmp_path: Path) -> None:
    app_port = free_port()
    ports = [free_port() for _ in recipe.hops]
    if recipe.tls:
        make_certificate(tmp_path)
    conf = nginx_conf(tmp_path, recipe.hops, ports, app_port, recipe.tls)
    env = server_env(receiver, flush_interval="60", **recipe.options)
    visits = {  # path -> the headers the visitor sends
        "/plain": {},
        "/forged": dict(recipe.visitor_headers),
    }
    if recipe.long_header:
        visits["/long"] = {"x-forwarded-for": "6.6.6.6, " * 400 + "6.6.6.6"}
    scheme = "https" if recipe.tls else "http"
    with running(gunicorn_argv(APP, app_port), env, app_port, tmp_path / "app.log") as app, \
            nginx(tmp_path / "nginx", conf, ports), \
            visitor(f"{scheme}://127.0.0.1:{ports[0]}") as http:
        for path, headers in visits.items():
            response = http.get(path, headers={"host": SITE, "user-agent": FIREFOX,
                                               **headers})
            assert response.status_code == 200, (path, response.text[:300])
        refused = http.get("/refused", headers={"host": "evil.example", "user-agent": FIREFOX})
        assert refused.status_code == 421
        app.terminate()  # the app flushes at exit: everything sent is in the receiver now
    hits = {hit["url"].rpartition("/")[2]: hit for hit in receiver.hits}
    assert sorted(hits) == sorted(path.lstrip("/") for path in visits), receiver.hits
    for path in visits:
        hit = hits[path.lstrip("/")]
        forged = path == "/forged"
        assert hit["ip"] == (recipe.forged_ip if forged and recipe.forged_ip else recipe.ip), path
        url = recipe.forged_url if forged and recipe.forged_url else recipe.url
        assert hit["url"] == url + path.lstrip("/"), path
