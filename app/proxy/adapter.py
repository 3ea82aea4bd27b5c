"""The base every format adapter builds on: the error boundary and the shared header checks."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.proxy.base import ForwardedCertificate, ProxyHeaderError
from app.proxy.headers import ReceivedHeaders

#: Largest value accepted for a header carrying one certificate or a verdict.
SINGLE_VALUE_LIMIT = 16 * 1024
#: Largest value accepted for a header that can carry a whole chain.
CHAIN_VALUE_LIMIT = 64 * 1024

#: RFC 9110 §5.6.2 token, without "_" (see ReceivedHeaders.collect).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^`|~0-9A-Za-z]+")


class HeaderAdapter(ABC):
    """Reads one proxy's header format. Subclasses implement ``_extract`` only.

    ``extract`` is the boundary: the shared checks run first, and any exception other than
    ``ProxyHeaderError`` raised while decoding becomes ``ProxyHeaderError("malformed")``.
    """

    #: The format's name in ``app.proxy.FORMATS``.
    format_name: ClassVar[str]
    #: Default lower-case name of the header carrying the leaf certificate.
    default_certificate_header: ClassVar[str]
    #: Whether the certificate header may carry a whole chain (and so the larger limit).
    certificate_header_carries_chain: ClassVar[bool] = False
    #: Other headers the format reads (verdicts, chains), with their size limits.
    companion_headers: ClassVar[Mapping[str, int]] = {}
    #: Companion headers whose grammar lets them be split over several field lines.
    repeatable_headers: ClassVar[frozenset[str]] = frozenset()
    #: The format's default headers that carry certificates. Their union over all formats is
    #: ``app.proxy.all_known_certificate_headers()``, which other adapters refuse.
    certificate_headers: ClassVar[tuple[str, ...]]

    name: str
    header_names: tuple[str, ...]
    certificate_header: str

    def __init__(
        self, *, known_certificate_headers: frozenset[str], header: str | None = None
    ) -> None:
        """Create the adapter; ``app.proxy.get_adapter`` is the usual way.

        Args:
            known_certificate_headers: every format's default certificate headers; those this
                adapter does not read are refused as foreign.
            header: overrides the certificate header's name.

        Raises:
            ValueError: for a header name that is not a plain token or collides with one of
                the format's other headers.
        """
        certificate_header = self.default_certificate_header
        if header is not None:
            if not _HEADER_NAME.fullmatch(header):
                raise ValueError(f"invalid certificate header name {header!r}")
            certificate_header = header.lower()
            if certificate_header in self.companion_headers:
                raise ValueError(
                    f"certificate header {header!r} is already read by the "
                    f"{self.format_name} format for another purpose"
                )
        self.name = self.format_name
        self.certificate_header = certificate_header
        self.header_names = (certificate_header, *self.companion_headers)
        certificate_limit = (
            CHAIN_VALUE_LIMIT if self.certificate_header_carries_chain else SINGLE_VALUE_LIMIT
        )
        self._limits = {certificate_header: certificate_limit, **self.companion_headers}
        self._foreign = known_certificate_headers - set(self.header_names)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.certificate_header!r}>"

    def extract(self, headers: Iterable[tuple[str, str]]) -> ForwardedCertificate | None:
        """Decode the forwarded certificate; see ``CertificateSource.extract``."""
        try:
            received = ReceivedHeaders.collect(
                headers,
                limits=self._limits,
                foreign=self._foreign,
                repeatable=self.repeatable_headers,
            )
            return self._extract(received)
        except ProxyHeaderError:
            raise
        except Exception as exc:
            # The boundary: a parser surprise is bad input, never a 500.
            raise ProxyHeaderError("malformed") from exc

    @abstractmethod
    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        """Decode the format from headers that passed the shared checks."""


def forwarded_certificate(
    leaf: x509.Certificate,
    *,
    chain: Sequence[x509.Certificate] = (),
    proxy_verify: str | None = None,
) -> ForwardedCertificate:
    """Build the result; a chain that repeats the leaf first (Envoy, Traefik) loses it."""
    leaf_der = leaf.public_bytes(Encoding.DER)
    rest = list(chain)
    if rest and rest[0].public_bytes(Encoding.DER) == leaf_der:
        rest = rest[1:]
    return ForwardedCertificate(
        leaf=leaf, chain=tuple(rest), proxy_verify=proxy_verify, leaf_der=leaf_der
    )


def read_verdict(received: ReceivedHeaders, header: str, grammar: re.Pattern[str]) -> str | None:
    """The proxy's verdict header, which must match ``grammar`` when present.

    Raises:
        ProxyHeaderError: ``malformed``.
    """
    value = received.value(header)
    if value is not None and not grammar.fullmatch(value):
        raise ProxyHeaderError(
            "malformed", "The proxy's verification header has an unknown value.", header=header
        )
    return value
