"""Where the Redis server is, and the clients the tier makes for it.

A tier never sends a command through a client it was given: it reads the
server's address and settings from it (or from the URL) and makes its own
clients, each with the tier's timeout on connecting and on every reply, and
no retries. So the tier's bound on a call's delay holds whatever client was
given (redis-py's defaults, 5 s and 3 retries in a cluster, would not), a
forked child makes fresh clients instead of using its parent's pools, and
the sync and asyncio clients that one tier needs agree.

Topologies: a single server (``redis://``, ``rediss://``, ``unix://``, a
``redis.Redis``), a Redis Cluster (``redis+cluster://host:port[,host:port]``,
a ``RedisCluster``), Sentinel-managed masters
(``redis+sentinel://host:port[,host:port]/service[/db]``, a client from
``Sentinel.master_for``).
"""

from __future__ import annotations

import inspect
from urllib.parse import parse_qs, unquote

import redis
import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
import redis.asyncio.sentinel as asentinel
import redis.cluster as scluster
import redis.sentinel as ssentinel
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

# Settings carried from a URL or a given client to the clients the tier makes.
_SETTINGS = (
    "host", "port", "db", "username", "password", "path", "client_name", "credential_provider", "ssl",
    "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data", "ssl_check_hostname",
    "ssl_min_version", "ssl_ciphers", "socket_keepalive", "socket_keepalive_options", "protocol",
)  # fmt: skip
_SCHEMES = "redis://, rediss://, unix://, redis+cluster://, rediss+cluster://, redis+sentinel://, rediss+sentinel://"


class Endpoint:
    """A server, a cluster or a Sentinel service, with its connection settings."""

    def __init__(self, kind, settings, nodes=(), service=None, sentinel_settings=None, described=""):
        self.kind = kind  # "server", "cluster" or "sentinel"
        self.settings = settings
        self.nodes = list(nodes)  # cluster startup nodes, or sentinels: [(host, port)]
        self.service = service
        self.sentinel_settings = sentinel_settings or {}
        self.described = described  # for repr() and logs: no credentials
        self.secrets = [s for s in (settings.get("password"), self.sentinel_settings.get("password")) if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(str(secret), "***")
        return text

    # -- clients, each made with the tier's bounds

    def sync_client(self, timeout):
        bounds = _bounds(self.settings, timeout)
        if self.kind == "cluster":
            nodes = [scluster.ClusterNode(h, p) for h, p in self.nodes]
            kwargs = _accepted(redis.Redis, self.settings, exclude=("host", "port", "db", "path"))
            return scluster.RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 0), **kwargs, **bounds)
        if self.kind == "sentinel":
            # The sentinels' own clients retry 3 times with backoff by default (3.5 s when none answers).
            sentinel_kwargs = {**self.sentinel_settings, **bounds, "retry": Retry(NoBackoff(), 0)}
            sentinels = ssentinel.Sentinel(self.nodes, sentinel_kwargs=sentinel_kwargs)
            kwargs = _accepted(redis.Redis, self.settings, exclude=("host", "port", "path"))
            return sentinels.master_for(self.service, retry=Retry(NoBackoff(), 0), **kwargs, **bounds)
        kwargs = _accepted(redis.Redis, _unix(self.settings))
        return redis.Redis(retry=Retry(NoBackoff(), 0), **kwargs, **bounds)

    def async_client(self, timeout):
        bounds = _bounds(self.settings, timeout)
        if self.kind == "cluster":
            nodes = [acluster.ClusterNode(h, p) for h, p in self.nodes]
            kwargs = _accepted(acluster.RedisCluster, self.settings, exclude=("host", "port", "db", "path"))
            return acluster.RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 0), **kwargs, **bounds)
        if self.kind == "sentinel":
            sentinel_kwargs = {**self.sentinel_settings, **bounds, "retry": _async_no_retry()}
            sentinels = asentinel.Sentinel(self.nodes, sentinel_kwargs=sentinel_kwargs)
            kwargs = _accepted(aredis.Redis, self.settings, exclude=("host", "port", "path"))
            return sentinels.master_for(self.service, retry=_async_no_retry(), **kwargs, **bounds)
        kwargs = _accepted(aredis.Redis, _unix(self.settings))
        return aredis.Redis(retry=_async_no_retry(), **kwargs, **bounds)


def _async_no_retry():
    from redis.asyncio.retry import Retry as AsyncRetry

    return AsyncRetry(NoBackoff(), 0)


def _bounds(settings, timeout):
    # A client's own shorter timeouts are kept; longer ones (or none) give way to the tier's.
    def bound(name):
        given = settings.get(name)
        return timeout if given is None else min(float(given), timeout)

    return {"socket_timeout": bound("socket_timeout"), "socket_connect_timeout": bound("socket_connect_timeout")}


def _unix(settings):
    settings = dict(settings)
    if "path" in settings:
        settings["unix_socket_path"] = settings.pop("path")
        settings.pop("host", None)
        settings.pop("port", None)
    return settings


_PARAMETERS = {}


def _accepted(cls, settings, exclude=()):
    """The settings that ``cls(...)`` takes (redis-py's clients differ, and differ across versions)."""
    names = _PARAMETERS.get(cls)
    if names is None:
        names = _PARAMETERS[cls] = set(inspect.signature(cls.__init__).parameters)
    exclude = (*exclude, "socket_timeout", "socket_connect_timeout")  # the tier's bounds replace them
    return {k: v for k, v in settings.items() if k in names and k not in exclude and v is not None}


# -- from a URL


def from_url(url: str) -> Endpoint:
    """Parses ``url``; raises ValueError saying what is wrong (never later, from a call)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"RedisTier url {_redact_url(url)!r} is not a URL; it must start with one of {_SCHEMES}")
    scheme = scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        try:
            settings = parse_url(url)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"RedisTier url {_redact_url(url)!r} cannot be parsed: {_redact_url(str(exc))}") from None
        settings = _neutral(settings, settings.pop("connection_class", None))
        if scheme != "unix":
            if not settings.get("host"):
                raise ValueError(f"RedisTier url {_redact_url(url)!r} names no host")
            db = rest.partition("?")[0].partition("/")[2].strip("/")
            if db and not db.isdigit():  # redis-py would use db 0 without a word
                raise ValueError(f"RedisTier url {_redact_url(url)!r} cannot be parsed: the db {db!r} is not a number")
        return Endpoint("server", settings, described=_redact_url(url))
    base, _, topology = scheme.partition("+")
    if base not in ("redis", "rediss") or topology not in ("cluster", "sentinel"):
        raise ValueError(f"RedisTier url {_redact_url(url)!r} has an unknown scheme {scheme!r}; use one of {_SCHEMES}")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    settings = {}
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            settings["username"] = unquote(user)
        if colon:
            settings["password"] = unquote(password)
    if base == "rediss":
        settings["ssl"] = True
    nodes = [_host_port(item, url) for item in hosts.split(",")]
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    parts = [p for p in path.split("/") if p]
    if topology == "cluster":
        if parts:
            raise ValueError(f"RedisTier url {_redact_url(url)!r}: a cluster URL has no path (a cluster has db 0 only)")
        return Endpoint("cluster", settings, nodes=nodes, described=_redact_url(url))
    if not parts or len(parts) > 2:
        raise ValueError(
            f"RedisTier url {_redact_url(url)!r}: a Sentinel URL names the service, and optionally the db: "
            "redis+sentinel://host:26379,host2:26379/mymaster/0"
        )
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise ValueError(f"RedisTier url {_redact_url(url)!r}: the db {parts[1]!r} is not a number")
        settings["db"] = int(parts[1])
    sentinel_settings = {}
    if "sentinel_password" in params:
        sentinel_settings["password"] = params["sentinel_password"]
    return Endpoint(
        "sentinel", settings, nodes=nodes, service=unquote(parts[0]), sentinel_settings=sentinel_settings,
        described=_redact_url(url),
    )  # fmt: skip


def _host_port(item, url):
    host, colon, port = item.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"RedisTier url {_redact_url(url)!r}: {item!r} is not host:port")
    return host.strip("[]"), int(port)


def _redact_url(url: str) -> str:
    """The URL with its password (and any sentinel_password=) replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if sep:
        netloc_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        netloc = rest[:netloc_end]
        userinfo, at, hosts = netloc.rpartition("@")
        if at and ":" in userinfo:
            netloc = userinfo.split(":", 1)[0] + ":***@" + hosts
        rest = netloc + rest[netloc_end:]
        url = scheme + sep + rest
    head, q, query = url.partition("?")
    if q:
        query = "&".join(
            (p.split("=", 1)[0] + "=***") if p.split("=", 1)[0] in ("password", "sentinel_password") else p
            for p in query.split("&")
        )
    return head + q + query


# -- from a client


def from_client(client) -> Endpoint:
    """The endpoint of a redis-py client; raises TypeError for anything else."""
    if isinstance(client, (scluster.RedisCluster, acluster.RedisCluster)):
        settings = _neutral(client.nodes_manager.connection_kwargs)
        nodes = [(n.host, n.port) for n in client.get_nodes()] or [(n.host, n.port) for n in client.startup_nodes]
        return Endpoint("cluster", settings, nodes=nodes, described=f"{type(client).__name__} {_listed(nodes)}")
    if not isinstance(client, (redis.Redis, aredis.Redis)):
        raise TypeError(
            "RedisTier client= must be a redis.Redis, redis.asyncio.Redis, redis.cluster.RedisCluster or "
            f"redis.asyncio.cluster.RedisCluster (or one made by Sentinel.master_for), not {type(client).__name__}"
        )
    pool = client.connection_pool
    settings = _neutral(pool.connection_kwargs, getattr(pool, "connection_class", None))
    service = getattr(pool, "service_name", None)
    if service is not None:  # Sentinel.master_for
        manager = pool.sentinel_manager
        nodes = [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
                 for s in manager.sentinels]  # fmt: skip
        sentinel_settings = {k: v for k, v in manager.sentinel_kwargs.items() if k in ("username", "password")}
        return Endpoint(
            "sentinel", settings, nodes=nodes, service=service, sentinel_settings=sentinel_settings,
            described=f"Sentinel {_listed(nodes)} service {service!r}",
        )  # fmt: skip
    where = settings.get("path") or f"{settings.get('host')}:{settings.get('port')}"
    return Endpoint("server", settings, described=f"{type(client).__name__} {where} db {settings.get('db', 0)}")


def _neutral(kwargs, connection_class=None):
    settings = {k: v for k, v in kwargs.items() if k in _SETTINGS}
    for name in ("socket_timeout", "socket_connect_timeout"):
        if kwargs.get(name) is not None:
            settings[name] = kwargs[name]
    name = getattr(connection_class, "__name__", "")
    if "SSL" in name:
        settings["ssl"] = True
    return settings


def _listed(nodes):
    return ",".join(f"{h}:{p}" for h, p in nodes)
