"""edXML (QCVN 102:2016) packages on ingest's API: safe parsing, the package model,
emission, XML-DSig through the signing service, and the views.

Modules: ``safexml`` (the hardened streaming reader), ``attachments`` (base64 and zip
decoding into spool files), ``model`` (what a package says), ``parse`` (elements to
the model), ``emit`` (the model to elements), ``signatures`` (the signing service's
XML-DSig API), ``accept`` (what a posted package does), ``api`` (the views).
"""
