"""Helpers shared by the tests and the benches: the real servers (RabbitMQ vhosts,
PostgreSQL databases, SeaweedFS), the whole stack as processes, PDFs to send, and the
fault-injection driver. Neither tests nor benches own it, so each imports it alone."""
