"""The exchange ledger: the facts of the e-document share, kept per exchange and per
delivery, with daily counters per agency that the metrics sum (``rules`` pure,
``feed`` incremental, ``rebuild`` from the stored tables, ``queries`` the figures)."""
