"""Push delivery: agencies' webhook endpoints and the pushes sent to them.

``rules``: events, signatures, URL rules, retry schedule, secrets at rest (no I/O).
``store``: endpoints and push jobs in ingest's database. ``worker``: sends the jobs.
``http``: one POST and what its answer means. ``openapi``: the API description.
"""
