"""Deadlines: the due-time rules, the scanner that gives due-soon and overdue notices,
the emails it queues and the worker that sends them, and the overdue listing."""
