"""The internal PKI served by the signing service.

ca (root, issuing CA, TSA and OCSP certificates: built by certificates, written by
storage, loaded by material), end-entity certificates (records,
issuing, revoking, lookup), crl, ocsp, tsa (the responders), trust (trust
anchors), service (what the signing app holds), api (the /pki endpoints), cli
(`lienthong pki`).
"""
