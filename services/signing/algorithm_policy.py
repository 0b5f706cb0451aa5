"""The algorithm policy: which digests and key sizes are accepted, and until when.

An algorithm that is no longer accepted today does not make an old signature worthless:
following ETSI EN 319 102-1 (5.2.9, 5.6.2.5), a signature made with it passes when a
proof of existence (a trusted time-stamp) shows it existed before the algorithm's
*sunset*; without such a proof it is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
never TOTAL-FAILED. An algorithm that was never accepted (MD2, an unknown digest, a
512-bit RSA key) is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE whatever the time.

The defaults follow ETSI TS 119 312 and NIST SP 800-131A: SHA-1 and 1024-bit RSA/DSA
keys are accepted for signatures made up to the end of 2013, MD5 up to the end of 2004.
An operator replaces them with ``LIENTHONG_ALGORITHM_POLICY``, a JSON file::

    {"digests": {"sha256": null, "sha384": null, "sha512": null, "sha1": "2013-12-31"},
     "rsa_min_bits": {"2048": null, "1024": "2013-12-31"},
     "dsa_min_bits": {"2048": null, "1024": "2013-12-31"},
     "ec_min_bits": {"256": null, "224": "2030-12-31"}}

A date is the last day (UTC) on which the algorithm is accepted; ``null`` means no
sunset. A digest not listed is not accepted; a key below the smallest size listed is not
accepted. Leaving a section out keeps its default.

The time at which the policy is applied is the proven time of the signature (its trusted
signature time-stamp, or the earliest trusted document time-stamp over it), never the
signing time the signer merely claims: a back-dated claim must not rescue SHA-1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from asn1crypto import algos, keys
from pyhanko_certvalidator.policy_decl import AlgorithmUsageConstraint, AlgorithmUsagePolicy

Sunsets = Mapping[str, date | None]

DEFAULT_DIGESTS: dict[str, date | None] = {
    "sha224": None,
    "sha256": None,
    "sha384": None,
    "sha512": None,
    "sha512_224": None,
    "sha512_256": None,
    "sha3_224": None,
    "sha3_256": None,
    "sha3_384": None,
    "sha3_512": None,
    "shake256": None,
    "sha1": date(2013, 12, 31),
    "md5": date(2004, 12, 31),
}
DEFAULT_RSA: dict[int, date | None] = {2048: None, 1024: date(2013, 12, 31)}
DEFAULT_DSA: dict[int, date | None] = {2048: None, 1024: date(2013, 12, 31)}
DEFAULT_EC: dict[int, date | None] = {224: None}


class AlgorithmPolicyError(ValueError):
    """The policy file cannot be used."""


def _end_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.max, tzinfo=UTC)


@dataclass(frozen=True)
class AlgorithmPolicy:
    """Accepted digests and minimum key sizes, each with an optional sunset date."""

    digests: Mapping[str, date | None] = field(default_factory=lambda: dict(DEFAULT_DIGESTS))
    rsa_min_bits: Mapping[int, date | None] = field(default_factory=lambda: dict(DEFAULT_RSA))
    dsa_min_bits: Mapping[int, date | None] = field(default_factory=lambda: dict(DEFAULT_DSA))
    ec_min_bits: Mapping[int, date | None] = field(default_factory=lambda: dict(DEFAULT_EC))

    # ------------------------------------------------------------------ judgement

    def digest(self, name: str, at: datetime) -> AlgorithmUsageConstraint:
        if name not in self.digests:
            return AlgorithmUsageConstraint(
                False, failure_reason=f"the digest algorithm {name} is not accepted"
            )
        return self._until(self.digests[name], at, f"the digest algorithm {name}")

    def key(self, public_key: keys.PublicKeyInfo, at: datetime) -> AlgorithmUsageConstraint:
        family = public_key.algorithm
        table = {"rsa": self.rsa_min_bits, "rsassa_pss": self.rsa_min_bits}.get(family)
        if table is None:
            table = {"dsa": self.dsa_min_bits, "ec": self.ec_min_bits}.get(family)
        if table is None:  # Ed25519/Ed448: fixed sizes, accepted
            return AlgorithmUsageConstraint(True)
        bits = public_key.bit_size
        fitting = [size for size in table if size <= bits]
        what = f"a {bits}-bit {family.upper()} key"
        if not fitting:
            return AlgorithmUsageConstraint(False, failure_reason=f"{what} is not accepted")
        return self._until(table[max(fitting)], at, what)

    @staticmethod
    def _until(sunset: date | None, at: datetime, what: str) -> AlgorithmUsageConstraint:
        end = _end_of(sunset)
        if end is None or at <= end:
            return AlgorithmUsageConstraint(True, not_allowed_after=end)
        return AlgorithmUsageConstraint(
            False,
            not_allowed_after=end,
            failure_reason=f"{what} is accepted only for signatures made by {sunset}",
        )

    def at(self, moment: datetime | None) -> DatedAlgorithmUsage:
        """This policy applied at ``moment`` (``None``: now), for pyHanko."""
        return DatedAlgorithmUsage(self, moment)

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_file(cls, path: Path) -> AlgorithmPolicy:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise AlgorithmPolicyError(f"{path}: cannot be read as JSON ({e})") from e
        if not isinstance(raw, dict):
            raise AlgorithmPolicyError(f"{path}: must hold a JSON object")
        unknown = set(raw) - {"digests", "rsa_min_bits", "dsa_min_bits", "ec_min_bits"}
        if unknown:
            raise AlgorithmPolicyError(f"{path}: unknown sections {sorted(unknown)}")
        default = cls()
        return cls(
            digests=_dates(raw, "digests", str, path) or default.digests,
            rsa_min_bits=_dates(raw, "rsa_min_bits", int, path) or default.rsa_min_bits,
            dsa_min_bits=_dates(raw, "dsa_min_bits", int, path) or default.dsa_min_bits,
            ec_min_bits=_dates(raw, "ec_min_bits", int, path) or default.ec_min_bits,
        )

    def describe(self) -> dict[str, dict[str, str | None]]:
        """The policy as plain data (for ``lienthong verify --policy`` and reports)."""

        def plain(table: Mapping[Any, date | None]) -> dict[str, str | None]:
            return {str(k): (v.isoformat() if v else None) for k, v in table.items()}

        return {
            "digests": plain(self.digests),
            "rsa_min_bits": plain(self.rsa_min_bits),
            "dsa_min_bits": plain(self.dsa_min_bits),
            "ec_min_bits": plain(self.ec_min_bits),
        }


def _dates(raw: dict[str, Any], section: str, key_type: type, path: Path) -> dict[Any, date | None]:
    value = raw.get(section)
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise AlgorithmPolicyError(f"{path}: {section} must be a non-empty object")
    out: dict[Any, date | None] = {}
    for k, v in value.items():
        try:
            name = key_type(k)
            out[name] = None if v is None else date.fromisoformat(str(v))
        except ValueError as e:
            raise AlgorithmPolicyError(f"{path}: {section}.{k}: {e}") from e
    return out


class DatedAlgorithmUsage(AlgorithmUsagePolicy):
    """An :class:`AlgorithmPolicy` judged at one fixed, proven time.

    pyHanko hands its own idea of the signing time to the policy; it is ignored, since
    that time may be no more than the signer's claim (see the module docstring)."""

    def __init__(self, policy: AlgorithmPolicy, moment: datetime | None) -> None:
        self.policy = policy
        self.moment = moment

    def _when(self) -> datetime:
        return self.moment or datetime.now(UTC)

    def digest_algorithm_allowed(
        self, algo: algos.DigestAlgorithm, moment: datetime | None
    ) -> AlgorithmUsageConstraint:
        return self.policy.digest(str(algo["algorithm"].native), self._when())

    def signature_algorithm_allowed(
        self,
        algo: algos.SignedDigestAlgorithm,
        moment: datetime | None,
        public_key: keys.PublicKeyInfo | None,
    ) -> AlgorithmUsageConstraint:
        when = self._when()
        try:
            hash_name = algo.hash_algo
        except ValueError:  # Ed25519/Ed448 carry no separate digest
            hash_name = None
        if hash_name is not None:
            verdict = self.policy.digest(str(hash_name), when)
            if not verdict:
                return verdict
        if public_key is not None:
            verdict = self.policy.key(public_key, when)
            if not verdict:
                return verdict
        return AlgorithmUsageConstraint(True)


def refusal(
    policy: AlgorithmPolicy,
    signer_info: Any,
    public_key: keys.PublicKeyInfo | None,
    at: datetime,
) -> str | None:
    """Why ``policy`` refuses the algorithms of a CMS signer at ``at``, in words."""
    usage = policy.at(at)
    try:
        verdict = usage.signature_algorithm_allowed(
            signer_info["signature_algorithm"], at, public_key
        )
        if verdict:
            verdict = usage.digest_algorithm_allowed(signer_info["digest_algorithm"], at)
    except Exception:  # an algorithm asn1crypto cannot describe
        return None
    return None if verdict else verdict.failure_reason
