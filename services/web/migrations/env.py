from services.common.db import run_alembic_env
from services.web.models import Base

run_alembic_env(Base.metadata)
