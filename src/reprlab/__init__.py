"""reprlab: representation learning, from auto-encoders to GANs, under one PyTorch API.

``reprlab.train_run(config, run_dir)`` trains a run (the pipeline of ``reprlab train``),
``reprlab.load(run_dir)`` gives its model back, ``reprlab.compare(data, methods)`` scores several
representations with the same probes (the pipeline of ``reprlab compare``); the packages follow the layers
data → nets → models → train → eval → viz → pipelines → report → cli (see ARCHITECTURE.md).
"""

from ._version import __version__
from .pipelines.training import load, train_run  # noqa: E402
from .pipelines.compare import compare  # noqa: E402
from . import data, models  # noqa: E402,F401
from .models.mda import MDA, MSDA  # noqa: E402

__all__ = ["MDA", "MSDA", "__version__", "compare", "data", "load", "models", "train_run"]
