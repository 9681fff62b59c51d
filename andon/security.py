"""Publisher authorization: which gateway sent a message, and may it publish for the sites its readings name.

Pure functions and small frozen objects, no I/O and no bytewax; the telemetry decoder calls them (see
`andon.operators.telemetry.TelemetryDecoder`). docs/security.md describes the threat model.

A message is attributed to a gateway in one of two ways:

- **signed header** (authenticates): header `andon-gateway` names the gateway and header `andon-signature` holds
  ``hmac-sha256=<hex>``, HMAC-SHA256 of the raw message value under the gateway's secret. A gateway with a
  `key_name` must sign every message; an unsigned message naming it is refused.
- **binding** (relies on Kafka ACLs for the topic; a key prefix is a routing convention, not a proof): an unsigned
  gateway whose `topic_pattern` matches the whole topic and whose `key_prefix` starts the key. When several
  gateways match, the message may only carry sites all of them are authorized for.

A message attributed to no gateway is refused. With no gateways configured, authorization is off.

Example::

    auth = Authorizer.from_sites([site])                 # None when no [[gateways]] are configured
    who = auth.identify("andon.telemetry.v1", b"press-01", [("andon-gateway", b"gw-a"), ...], value)
    who.allows("plant-b")                                # False: gw-a publishes for plant-a only
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from andon.config import SiteConfig, gateway_key_env
from andon.errors import ConfigError

GATEWAY_HEADER = "andon-gateway"
SIGNATURE_HEADER = "andon-signature"
SIGNATURE_SCHEME = "hmac-sha256="
_SCHEME_BYTES = SIGNATURE_SCHEME.encode()


def sign(secret: bytes | str, value: bytes) -> bytes:
    """The `andon-signature` header value for `value` (what a gateway sends)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return _SCHEME_BYTES + hmac.digest(key, value, "sha256").hex().encode()


def signed_headers(gateway: str, secret: bytes | str, value: bytes) -> list[tuple[str, bytes]]:
    """Both headers a signing gateway adds to a message."""
    return [(GATEWAY_HEADER, gateway.encode()), (SIGNATURE_HEADER, sign(secret, value))]


@dataclass(frozen=True, slots=True)
class GatewayRule:
    """One gateway as the check needs it: its sites, its bindings and (for signed gateways) its secret."""

    id: str
    sites: frozenset[str]
    topic: re.Pattern[str] | None = None
    key_prefix: bytes | None = None
    secret: bytes | None = None

    def __repr__(self) -> str:  # never show the secret
        return (f"GatewayRule({self.id!r}, sites={sorted(self.sites)}, signed={self.secret is not None}, "
                f"topic={self.topic.pattern if self.topic else None!r}, key_prefix={self.key_prefix!r})")

    def bound_to(self, topic_matches: bool, key: bytes | None) -> bool:
        """Whether an unsigned message on this topic/key counts as this gateway's (needs at least one binding)."""
        if self.secret is not None or (self.topic is None and self.key_prefix is None):
            return False
        if self.topic is not None and not topic_matches:
            return False
        return self.key_prefix is None or (key is not None and key.startswith(self.key_prefix))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who published a message (`gateway`, several joined by '+' when only bindings tell) and the sites allowed,
    or why nobody could be identified (`refusal`)."""

    gateway: str | None
    sites: frozenset[str]
    refusal: str | None = None

    def allows(self, site: str) -> bool:
        return self.refusal is None and site in self.sites


class Authorizer:
    """Identifies the publisher of each message and says which sites it may publish for."""

    def __init__(self, rules: Iterable[GatewayRule]) -> None:
        self.rules = {rule.id: rule for rule in rules}
        if not self.rules:
            raise ValueError("an Authorizer needs at least one gateway rule")
        self._topic_cache: dict[str, tuple[GatewayRule, ...]] = {}

    def __repr__(self) -> str:
        return f"Authorizer({list(self.rules.values())!r})"

    @classmethod
    def from_sites(cls, sites: Sequence[SiteConfig]) -> Authorizer | None:
        """Rules from every site's [[gateways]] (a gateway declared by several sites gets the union of their
        grants); None when no site declares a gateway (authorization off)."""
        merged: dict[str, dict] = {}
        for site in sites:
            for g in site.gateways:
                entry = merged.setdefault(g.id, {"sites": set(), "topic": g.topic_pattern, "key_prefix": g.key_prefix,
                                                 "key_name": g.key_name, "secret": g.secret})
                if (entry["topic"], entry["key_prefix"], entry["key_name"]) != (g.topic_pattern, g.key_prefix,
                                                                                g.key_name):
                    raise ConfigError(f"gateway {g.id!r} is declared with different topic_pattern, key_prefix or "
                                      f"key_name in two site configs",
                                      hint="declare each gateway's bindings identically in every site file")
                entry["sites"].update(g.sites or [site.site.id])
        if not merged:
            return None
        rules = []
        for gid, e in merged.items():
            secret = None
            if e["key_name"] is not None:
                if e["secret"] is None:
                    raise ConfigError(f"gateway {gid!r} must sign its messages but its key is not set",
                                      hint=f"set {gateway_key_env(e['key_name'])} (or "
                                           f"{gateway_key_env(e['key_name'])}_FILE) to the gateway's HMAC secret")
                secret = e["secret"].get_secret_value().encode()
            elif e["topic"] is None and e["key_prefix"] is None:
                raise ConfigError(f"gateway {gid!r} can never be identified",
                                  hint="give it key_name (signed messages), topic_pattern or key_prefix")
            rules.append(GatewayRule(gid, frozenset(e["sites"]), re.compile(e["topic"]) if e["topic"] else None,
                                     e["key_prefix"].encode() if e["key_prefix"] else None, secret))
        return cls(rules)

    def _bound(self, topic: str) -> tuple[GatewayRule, ...]:
        """Unsigned gateways that may be bound to messages of `topic` (cached: topics are few)."""
        found = self._topic_cache.get(topic)
        if found is None:
            found = tuple(r for r in self.rules.values()
                          if r.secret is None and (r.topic is not None or r.key_prefix is not None)
                          and (r.topic is None or r.topic.fullmatch(topic) is not None))
            self._topic_cache[topic] = found
        return found

    def identify(self, topic: str, key: bytes | None, headers: Sequence[tuple[str, bytes]] | None,
                 value: bytes) -> Identity:
        """Who sent this message, from its signed header or else its topic and key binding."""
        claimed = signature = None
        for name, header_value in headers or ():
            if name == GATEWAY_HEADER:
                claimed = header_value
            elif name == SIGNATURE_HEADER:
                signature = header_value
        if claimed is not None:
            gid = claimed.decode("utf-8", "replace")
            rule = self.rules.get(gid)
            if rule is None:
                return Identity(gid, frozenset(), f"gateway {gid[:64]!r} is not configured")
            if rule.secret is not None:
                if signature is None:
                    return Identity(gid, frozenset(), f"gateway {gid!r} must sign its messages; no {SIGNATURE_HEADER}")
                if not hmac.compare_digest(signature, sign(rule.secret, value)):
                    return Identity(gid, frozenset(), f"bad {SIGNATURE_HEADER} for gateway {gid!r}")
                return Identity(gid, rule.sites)
            if not rule.bound_to(True if rule.topic is None else rule.topic.fullmatch(topic) is not None, key):
                return Identity(gid, frozenset(), f"gateway {gid!r} does not sign and this message is not on its "
                                                  f"topic/key binding")
            return Identity(gid, rule.sites)
        matches = [r for r in self._bound(topic) if r.bound_to(True, key)]
        if not matches:
            return Identity(None, frozenset(), f"no gateway identified (unsigned message on topic {topic!r} with "
                                               f"key {_short(key)} matches no gateway binding)")
        sites = frozenset.intersection(*(r.sites for r in matches))
        return Identity("+".join(r.id for r in matches), sites)


def _short(key: bytes | None) -> str:
    if key is None:
        return "none"
    return repr(key[:64].decode("utf-8", "replace"))


__all__ = ["GATEWAY_HEADER", "SIGNATURE_HEADER", "Authorizer", "GatewayRule", "Identity", "sign", "signed_headers"]
