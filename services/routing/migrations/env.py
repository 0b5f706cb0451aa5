from services.common.db import run_alembic_env
from services.routing.models import Base

run_alembic_env(Base.metadata)
