"""The e-document share for agencies and monitors: the metrics API over routing's
ledger (``api``), its exports as CSV and XLSX (``exports``) and the printable
quarterly report (``report``)."""
