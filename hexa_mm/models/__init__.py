"""Models of hexa_mm: algorithms, hard-example generators, losses."""
from .algorithms import *  # noqa: F401,F403
from .hard_examples import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
