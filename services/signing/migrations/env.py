from services.common.db import run_alembic_env
from services.signing.models import Base
from services.signing.pki import models as _pki_models  # noqa: F401  (its tables on Base)

run_alembic_env(Base.metadata)
