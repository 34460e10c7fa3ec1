"""What every model shares: a typed config, a named loss output, and the trainer's contract.

A model is an ``nn.Module`` built from ``(config, input_shape)``. The trainer knows nothing else
about it: it asks :meth:`ReprModel.updates` which optimizer updates make one training step (one
for an auto-encoder; discriminator and generator for a GAN, each with its own frequency) and
calls ``model(batch, update=name)``, which returns a dict with a scalar ``"loss"`` and any
other metrics to log.

A model may also need phases before that fit -- the greedy layer-wise pre-training of stacked
auto-encoders. :meth:`ReprModel.pretrain` receives a ``fit_phase`` function (see :data:`PhaseFit`)
that builds and trains one registered model with the same trainer, so the model never sees
run folders, devices or checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable

import torch
from torch import Tensor, nn

from ..data.base import Batch, TensorData
from ..errors import UsageError

#: ``fit_phase(phase, model_name, model_config, train, val=None, **train_overrides) -> model``:
#: seed, build the registered model ``model_name`` with ``model_config`` for ``train``'s sample
#: shape, train it with the one :class:`~reprlab.train.Trainer` (the run's training options with
#: ``train_overrides``, e.g. ``max_steps``, ``lr``) and return it trained. :func:`reprlab.pipelines.training.train_run`
#: passes one that writes phase ``phase`` into ``<run_dir>/pretrain/<phase>/`` and, on
#: ``--resume``, loads a finished phase instead of training it again.
PhaseFit = Callable[..., "ReprModel"]


@dataclass(frozen=True)
class Update:
    """One optimizer update of a training step.

    - name : passed to ``model(batch, update=name)``; also the prefix of its logged metrics.
    - parameters : the parameters this update's optimizer owns.
    - every : run this update on steps where ``step % every == 0`` (e.g. a generator updated once
      per ``n_critic`` critic updates has ``every=n_critic``).
    - lr : learning rate of this update's optimizer (None: the training config's ``lr``).
    - betas : Adam betas of this update (None: the training config's).
    - active : asked before each due step; the update runs only when it returns True (None: always).
      E.g. a Tempered GAN's lens once it is dropped: its optimizer then steps no more.
    """

    name: str
    parameters: Callable[[], Iterable[nn.Parameter]]
    every: int = 1
    lr: float | None = None
    betas: tuple[float, float] | None = None
    active: Callable[[], bool] | None = None


def _forget_host_counters(module: "ReprModel", incompatible_keys) -> None:
    """After a state dict is loaded the step counters are re-read from their buffers."""
    module._host_counters.clear()


class ReprModel(nn.Module):
    """Base class of reprlab models.

    Subclasses set ``name`` and ``Config`` and implement ``forward(batch, update)``. Optional
    capabilities (``encode``, ``decode``, ``reconstruct``, ``sample``) raise a one-line
    :class:`UsageError` when a model does not have them.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = object
    #: defaults for one data set (keyed by the data name before ``:``, e.g. ``omniglot``; ``"*"``:
    #: any data set, under a data set's own entry): config keys (model keys bare, others
    #: ``train.lr``-style) that apply to a new run wherever neither the config file nor a
    #: ``key=value`` override sets them
    recipes: ClassVar[dict[str, dict[str, object]]] = {}
    #: model keys added after runs were saved without them: the value that reproduces what such a
    #: run was trained with (applied only when a saved run's ``config.yaml`` lacks the key)
    legacy_defaults: ClassVar[dict[str, object]] = {}
    #: the model option that sets the size of the codes :meth:`encode` returns (what ``reprlab
    #: compare --code-size`` sets): an int option, or a tuple option whose last entry is that size
    #: (the stacked auto-encoder's ``hidden``). None: ``latent_dim`` (or a former name of it) when
    #: the config has one, see :func:`code_size_key`; a family whose ``latent_dim`` is not the
    #: size of its codes (a GAN's noise) names its own option
    code_size_option: ClassVar[str | None] = None
    #: whether ``reprlab eval`` scores the model's samples (:mod:`reprlab.eval.sample_quality`:
    #: classifier FID/KID/precision/recall on images, mode coverage on the 2-D mixtures): the
    #: families judged by their samples (GAN, AAE, Tempered GAN)
    eval_sample_quality: ClassVar[bool] = False
    #: ``sample(n, generator, truncation=ψ)`` draws its noise from a truncated normal (GAN)
    supports_truncation: ClassVar[bool] = False

    def __init__(self, config, input_shape: tuple[int, ...]):
        super().__init__()
        self.config = config
        self.input_shape = tuple(int(s) for s in input_shape)
        # step counters (a schedule's t) are buffers, saved in checkpoints, mirrored on the host so that
        # schedules read them without a device synchronization per step; loading a state dict refreshes them
        self._host_counters: dict[str, int] = {}
        self.register_load_state_dict_post_hook(_forget_host_counters)

    def counter(self, name: str) -> int:
        """The step counter buffer ``name`` as a host int (no device synchronization)."""
        if name not in self._host_counters:
            self._host_counters[name] = int(getattr(self, name))
        return self._host_counters[name]

    def bump(self, name: str) -> None:
        """Add one to the step counter buffer ``name`` and to its host mirror."""
        value = self.counter(name)  # before the buffer changes: the mirror may not be filled yet
        getattr(self, name).add_(1)
        self._host_counters[name] = value + 1

    def updates(self) -> list[Update]:
        """The optimizer updates of one training step (default: one over all parameters)."""
        return [Update("model", self.parameters)]

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def after_update(self, update: str) -> None:
        """Called by the trainer after each optimizer step of ``update`` (default: nothing); e.g.
        WGAN's weight clipping or an exponential moving average of the generator's weights."""

    def snapshot(self) -> dict[str, Tensor]:
        """Progress pictures as data, taken at every checkpoint by the pipeline that owns the run
        folder: ``{name: samples}``, written as ``<run>/<name>/step-NNNNNN.png`` by
        :func:`reprlab.viz.save_samples` (images (N, C, H, W), rows of images (R, N, C, H, W) or
        2-D points (N, 2)). E.g. a GAN's samples from fixed noise. Default: nothing."""
        return {}

    def check_data(self, data: TensorData) -> None:
        """Raise a one-line error when ``data`` do not suit the model (default: any data do).

        :func:`reprlab.pipelines.training.train_run` calls it before creating the run folder.
        """

    def training_data(self, data: TensorData, seed: int = 0):
        """What the trainer batches for this model, built from the (training split of the) data set
        (default: the data itself). A Siamese network returns its pairs
        (:class:`~reprlab.data.pairs.PairData`); :func:`reprlab.pipelines.training.train_run` calls it once."""
        return data

    #: the validation metric that early stopping and ``best.safetensors`` minimize
    monitor: ClassVar[str] = "val/loss"

    def validate(self, data: TensorData) -> dict[str, float]:
        """Validation metrics over the whole validation set (names without the ``val/`` prefix).

        Default: the means of :meth:`evaluate` over batches, computed by the trainer. A model whose
        validation is not a mean over batches (e.g. one-shot accuracy over tasks) overrides it.
        """
        raise NotImplementedError

    @property
    def has_own_validation(self) -> bool:
        return type(self).validate is not ReprModel.validate

    def pretrain(self, train: TensorData, val: TensorData | None, fit_phase: PhaseFit) -> None:
        """Phases run before the main fit, e.g. greedy layer-wise pre-training (default: none).

        Called by :func:`reprlab.pipelines.training.train_run` after the model is built and before ``Trainer.fit``;
        an implementation trains its phases with ``fit_phase`` and copies what they learned into
        ``self``. Not called on ``reprlab.load``: the saved weights already hold its result.
        """

    @property
    def has_pretraining(self) -> bool:
        return type(self).pretrain is not ReprModel.pretrain

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, Tensor]:
        """Validation metrics of one batch (means over the batch); default: the training losses."""
        out = {}
        for u in self.updates():
            for k, v in self.forward(batch, u.name).items():
                out[k if len(self.updates()) == 1 else f"{u.name}/{k}"] = v.detach()
        return out

    def check_input(self, x: Tensor) -> Tensor:
        """``x`` as a float tensor of shape ``(B, *input_shape)`` on the model's device, or a one-line error."""
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        if not x.is_floating_point():
            raise UsageError(f"{self.name}: input must be floating point (scale images to [0, 1]), got {x.dtype}")
        if tuple(x.shape[1:]) != self.input_shape:
            if tuple(x.shape) == self.input_shape:
                x = x.unsqueeze(0)
            else:
                raise UsageError(
                    f"{self.name}: input shape {tuple(x.shape)} does not match the model's (B, "
                    f"{', '.join(map(str, self.input_shape))}); use data of the shape it was trained on"
                )
        p = next(self.parameters(), None)
        return x.to(p.device, p.dtype) if p is not None else x

    def _missing(self, what: str) -> UsageError:
        return UsageError(f"model {self.name!r} cannot {what}")

    def encode(self, x: Tensor) -> Tensor:
        raise self._missing("encode")

    def decode(self, z: Tensor) -> Tensor:
        raise self._missing("decode")

    def reconstruct(self, x: Tensor) -> Tensor:
        raise self._missing("reconstruct")

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise self._missing("sample (it has no prior to draw from); try `reprlab reconstruct`")

    @property
    def can_sample(self) -> bool:
        return type(self).sample is not ReprModel.sample

    @property
    def can_reconstruct(self) -> bool:
        return type(self).reconstruct is not ReprModel.reconstruct

    @property
    def can_encode(self) -> bool:
        return type(self).encode is not ReprModel.encode

    @property
    def can_decode(self) -> bool:
        return type(self).decode is not ReprModel.decode


#: config fields that are a family's code size when it names no ``code_size_option``
CODE_SIZE_NAMES = ("latent_dim", "code_dim", "code_size", "embedding_dim")


def code_size_key(cls: type) -> str | None:
    """The model option of the registered family ``cls`` that sets the size of its codes: its
    :attr:`ReprModel.code_size_option` when it names one, else the first of :data:`CODE_SIZE_NAMES`
    among its config's fields, else None (no option sets it)."""
    from ..config import fields_of

    named = getattr(cls, "code_size_option", None)
    if named:
        return named
    config = getattr(cls, "Config", object)
    fields = fields_of(config) if hasattr(config, "__dataclass_fields__") else {}
    return next((name for name in CODE_SIZE_NAMES if name in fields), None)
