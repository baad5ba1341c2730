"""The egress policy as a table (sandbox/egress.py): what is public, what the operator's allow,
deny, resolve and proxy settings change, and how the flags' values are read."""

from __future__ import annotations

import ipaddress

import orjson
import pytest
import yarl

from sandbox.egress import EgressConfig, PatternError, Policy, parse_resolve, parse_size, refusal_reason


def check(url: str, **config: object):
    return Policy(EgressConfig(**config)).check_url(yarl.URL(url, encoded=True))


REFUSED = [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("10.0.0.5", "RFC 1918"), ("172.16.0.1", "RFC 1918"),
    ("172.31.255.255", "RFC 1918"), ("192.168.1.1", "RFC 1918"), ("169.254.169.254", "link-local"),
    ("100.64.0.1", "CGNAT"), ("100.127.255.254", "CGNAT"), ("0.0.0.0", "0.0.0.0/8"), ("0.1.2.3", "0.0.0.0/8"),
    ("224.0.0.251", "multicast"), ("239.255.255.250", "multicast"), ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"), ("192.0.2.10", "documentation"), ("198.51.100.1", "documentation"),
    ("203.0.113.7", "documentation"), ("198.18.0.1", "benchmarking"), ("192.0.0.8", "IETF"),
    ("[::1]", "loopback"), ("[::]", "unspecified"), ("[fd00::1]", "unique local"), ("[fc00::1]", "unique local"),
    ("[fe80::1]", "link-local"), ("[ff02::1]", "multicast"), ("[2001:db8::1]", "documentation"),
    ("[::ffff:127.0.0.1]", "IPv4-mapped form of a loopback"), ("[::ffff:10.1.2.3]", "IPv4-mapped form of a private"),
    ("[::ffff:169.254.169.254]", "IPv4-mapped form of a link-local"), ("[::127.0.0.1]", "IPv4-compatible"),
    ("[64:ff9b::7f00:1]", "NAT64 form of a loopback"), ("[64:ff9b::a9fe:a9fe]", "NAT64 form of a link-local"),
    ("[2002:7f00:1::]", "6to4 form of a loopback"), ("[2002:c0a8:101::1]", "6to4 form of a private"),
    ("[2001::1]", "Teredo"), ("[fec0::1]", "site-local"), ("[100::1]", "discard"), ("[4000::1]", "reserved"),
]


@pytest.mark.parametrize("host,why", REFUSED)
def test_every_non_public_address_is_refused_by_default(host, why):
    refusal = check(f"https://{host}/x")
    assert refusal is not None and refusal.code == "EGRESS_DENIED"
    assert why in refusal.message and "--egress-allow" in refusal.message


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "[2606:4700::1111]",
                                  "[::ffff:8.8.8.8]", "[64:ff9b::808:808]", "[2002:808:808::1]", "api.example.com"])
def test_public_addresses_and_names_pass_the_url_check(host):
    assert check(f"https://{host}/") is None


def test_the_reason_names_the_range_in_words():
    assert refusal_reason(ipaddress.ip_address("169.254.169.254")) == \
        "a link-local address (where cloud metadata services live)"
    message = check("http://10.0.0.5/").message
    assert message == "egress refused: 10.0.0.5 is a private address (RFC 1918); allow it with --egress-allow"


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "data:text/plain,hi", "ws://example.com/",
                                 "javascript:alert(1)", "gopher://example.com/"])
def test_only_http_and_https_urls_are_fetched(url):
    refusal = check(url)
    assert refusal is not None and refusal.code == "BAD_URL" and "only http: and https:" in refusal.message


def test_a_url_with_credentials_is_refused():
    assert check("https://user:secret@example.com/").code == "BAD_URL"


def test_a_resolved_private_address_names_the_host_and_the_address():
    policy = Policy(EgressConfig())
    refusal = policy.check_address("rebind.example", ipaddress.ip_address("127.0.0.1"))
    assert refusal.message == ("egress refused: rebind.example resolves to 127.0.0.1, which is a loopback address; "
                               "allow it with --egress-allow")


def test_an_allowed_host_pattern_may_resolve_to_private_addresses_and_only_it():
    policy = Policy(EgressConfig(allow=["*.internal.example", "vault.corp"]))
    private = ipaddress.ip_address("10.0.0.5")
    assert policy.check_address("billing.internal.example", private) is None
    assert policy.check_address("a.b.internal.example", private) is None
    assert policy.check_address("VAULT.corp.", private) is None
    assert policy.check_address("internal.example", private) is not None  # *.x is not x itself
    assert policy.check_address("evil.example", private) is not None
    # a host pattern says nothing about literal addresses
    assert policy.check_url(yarl.URL("http://10.0.0.5/")) is not None


def test_an_allowed_range_is_reachable_by_any_name_and_as_a_literal():
    policy = Policy(EgressConfig(allow=["10.20.0.0/16", "fd00::/8"]))
    assert policy.check_url(yarl.URL("http://10.20.1.2/")) is None
    assert policy.check_url(yarl.URL("http://[::ffff:10.20.1.2]/")) is None
    assert policy.check_address("anything.example", ipaddress.ip_address("10.20.9.9")) is None
    assert policy.check_address("anything.example", ipaddress.ip_address("fd00::7")) is None
    assert policy.check_address("anything.example", ipaddress.ip_address("10.21.0.1")) is not None


def test_deny_wins_over_allow_over_mappings_and_over_public():
    config = dict(allow=["*.corp", "10.0.0.0/8"], deny=["secret.corp", "10.6.0.0/16", "8.8.4.0/24", "*.blocked.example"],
                  resolve=["secret.corp=10.1.1.1:443"])
    policy = Policy(EgressConfig(**config))
    assert policy.check_url(yarl.URL("https://secret.corp/")).code == "EGRESS_DENIED"
    assert policy.check_url(yarl.URL("https://x.blocked.example/")).code == "EGRESS_DENIED"
    assert policy.check_address("db.corp", ipaddress.ip_address("10.6.0.1")) is not None
    assert policy.check_address("db.corp", ipaddress.ip_address("10.6.0.1"), mapped=True) is not None
    assert policy.check_address("dns.example", ipaddress.ip_address("8.8.4.4")) is not None
    assert policy.check_address("db.corp", ipaddress.ip_address("10.7.0.1")) is None


def test_deny_star_turns_outbound_requests_off():
    assert check("https://api.example.com/", deny=["*"]).code == "EGRESS_DENIED"


def test_a_mapping_connects_a_host_pattern_to_an_address_and_port():
    policy = Policy(EgressConfig(resolve=["api.test.example=127.0.0.1:8443", "*.svc.example=[::1]:99",
                                          "plain.example=10.0.0.1"]))
    mapping = policy.mapping_for("API.Test.Example.")
    assert (str(mapping.address), mapping.port) == ("127.0.0.1", 8443)
    mapping = policy.mapping_for("a.svc.example")
    assert (str(mapping.address), mapping.port) == ("::1", 99)
    assert policy.mapping_for("plain.example").port is None  # the URL's port
    assert policy.mapping_for("other.example") is None
    # a mapped private address is the operator's choice
    assert policy.check_address("api.test.example", mapping.address, mapped=True) is None


@pytest.mark.parametrize("entry", ["nope", "=1.2.3.4:1", "a.example=", "a.example=not-an-ip:80", "a.example=1.2.3.4:0",
                                   "a.example=1.2.3.4:70000", "10.0.0.0/8=1.2.3.4:80"])
def test_a_bad_mapping_says_what_is_wrong(entry):
    with pytest.raises(PatternError, match="--egress-resolve"):
        parse_resolve(entry)


@pytest.mark.parametrize("pattern", ["a*b.example", "*.", "*.*.example", "host:80", ""])
def test_a_bad_pattern_says_what_is_wrong(pattern):
    with pytest.raises(PatternError, match="--egress-allow"):
        Policy(EgressConfig(allow=[pattern]))


def test_internationalised_patterns_match_the_punycode_host():
    policy = Policy(EgressConfig(deny=["*.bücher.example"]))
    assert policy.check_url(yarl.URL("https://shop.xn--bcher-kva.example/")).code == "EGRESS_DENIED"


def test_the_proxy_is_the_flag_else_the_environment_and_no_proxy_hosts_go_direct():
    config = EgressConfig(resolve=["mapped.example=10.0.0.1:80"]).with_environment_proxies(
        {"HTTPS_PROXY": "http://proxy.corp:3128", "http_proxy": "http://plain-proxy:8080",
         "NO_PROXY": "internal.example, .lan,10.0.0.0/8"})
    policy = Policy(config)
    assert policy.proxy_for(yarl.URL("https://api.example.com/")) == "http://proxy.corp:3128"
    assert policy.proxy_for(yarl.URL("http://api.example.com/")) == "http://plain-proxy:8080"
    for direct in ("https://internal.example/", "https://a.internal.example/", "https://printer.lan/",
                   "http://10.1.2.3/", "https://mapped.example/"):
        assert policy.proxy_for(yarl.URL(direct)) is None, direct
    flag = Policy(EgressConfig(proxy="http://flag-proxy:1", https_proxy="http://env-proxy:2"))
    assert flag.proxy_for(yarl.URL("https://api.example.com/")) == "http://flag-proxy:1"
    assert "flag-proxy" in flag.proxy_hosts


def test_the_configuration_travels_as_json_to_the_executors():
    config = EgressConfig(allow=["*.corp"], resolve=["a.example=1.2.3.4:5"], max_requests=7)
    assert EgressConfig.from_json(orjson.loads(orjson.dumps(config.to_json()))) == config


def test_documented_defaults():
    d = EgressConfig()
    assert (d.max_concurrent, d.max_requests, d.max_response_bytes, d.max_request_bytes) == (10, 50, 10 * 2**20, 10 * 2**20)
    assert d.allow == d.deny == d.resolve == [] and d.proxy is None and d.ca_file is None


@pytest.mark.parametrize("text,size", [("100", 100), ("10MiB", 10 * 2**20), ("512KiB", 512 * 1024), ("1MB", 10**6),
                                       ("2g", 2 * 2**30), ("64k", 65536)])
def test_byte_sizes_read_as_operators_write_them(text, size):
    assert parse_size(text) == size


def test_the_serve_flags_and_their_environment_twins(monkeypatch):
    from server.cli import build_parser
    from server.settings import settings_from_args

    args = build_parser().parse_args(["serve", "--egress-allow", "*.corp", "--egress-allow", "10.0.0.0/8",
                                      "--egress-resolve", "api.x.example=127.0.0.1:9", "--egress-max-response-bytes",
                                      "1MiB", "--egress-max-requests", "5"])
    egress = settings_from_args(args).egress
    assert egress.allow == ["*.corp", "10.0.0.0/8"] and egress.resolve == ["api.x.example=127.0.0.1:9"]
    assert (egress.max_response_bytes, egress.max_requests) == (2**20, 5)
    monkeypatch.setenv("ACTIONHOST_EGRESS_DENY", "a.example, b.example")
    monkeypatch.setenv("ACTIONHOST_EGRESS_MAX_CONCURRENT", "3")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    egress = settings_from_args(build_parser().parse_args(["serve"])).egress
    assert egress.deny == ["a.example", "b.example"] and egress.max_concurrent == 3
    assert egress.https_proxy == "http://proxy.corp:3128"
    with pytest.raises(ValueError, match="--egress-allow 'a\\*b'"):
        settings_from_args(build_parser().parse_args(["serve", "--egress-allow", "a*b"]))
    with pytest.raises(ValueError, match="--egress-ca-file"):
        settings_from_args(build_parser().parse_args(["serve", "--egress-ca-file", "/nonexistent.pem"]))
