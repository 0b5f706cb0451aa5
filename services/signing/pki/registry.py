"""Issuing, revoking and finding end-entity certificates (the ``certificates`` table).

The code lives in :mod:`.records` (``CertificateRecord``), :mod:`.issuing`,
:mod:`.revoking` and :mod:`.lookup`; every name this module defined before that split
is still importable from it.
"""

from __future__ import annotations

import logging

from services.signing.pki.issuing import _record as _record
from services.signing.pki.issuing import issue as issue
from services.signing.pki.lookup import current_certificate as current_certificate
from services.signing.pki.lookup import find_certificate as find_certificate
from services.signing.pki.lookup import list_certificates as list_certificates
from services.signing.pki.lookup import signing_certificate as signing_certificate
from services.signing.pki.records import CertificateRecord as CertificateRecord
from services.signing.pki.records import utc as utc
from services.signing.pki.revoking import REASONS as REASONS
from services.signing.pki.revoking import reason_flag as reason_flag
from services.signing.pki.revoking import revoke as revoke

# the logger issuing.py and revoking.py write to
log = logging.getLogger(__name__)
