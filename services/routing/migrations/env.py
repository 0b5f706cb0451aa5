from services.common.db import run_alembic_env
from services.routing import audit as _audit  # noqa: F401  (its tables on Base)
from services.routing.models import Base

run_alembic_env(Base.metadata)
